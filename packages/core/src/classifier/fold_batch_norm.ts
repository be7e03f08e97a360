import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { readersOf } from './layers_executor.js';

type Layer = LayersModel['layers'][number];

/**
 * An inference-mode batch-norm folded into the convolution before it: `apply`
 * computes a layer's output straight from an earlier tensor with one fused
 * convolution whose weights are `W·s` and bias `(b − μ)·s + β`,
 * `s = γ / √(σ² + ε)`. Outside a gradient tape the fold may also take in the
 * `ZeroPadding2D` before the convolution (as explicit padding) and the ReLU /
 * ReLU6 after the batch-norm (as the kernel's fused activation).
 */
export interface BatchNormFold {
  /** What `apply` reads: the convolution's input, or the input of the zero padding before it. */
  readonly input: SymbolicTensor;
  /**
   * The symbolic tensors between {@link BatchNormFold.input} and the output, which the fold
   * skips: it is used only while none of them is fed or already computed.
   */
  readonly through: readonly SymbolicTensor[];
  /**
   * Only outside a gradient tape: tfjs unfuses activations under a tape, and the taped
   * forward keeps the model's own padding and activation layers (whose backward passes
   * are the fast ones), so gradients are computed exactly as before.
   */
  readonly untapedOnly: boolean;
  /** The output for a value of {@link BatchNormFold.input}. */
  apply(x: tf.Tensor): tf.Tensor;
}

interface VariableLike {
  read(): tf.Tensor;
}

interface ConvLike {
  getClassName(): string;
  kernel?: VariableLike | null;
  depthwiseKernel?: VariableLike | null;
  bias?: VariableLike | null;
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number | number[];
  activation?: { getClassName(): string } | null;
}

interface BatchNormLike {
  axis: number;
  epsilon: number;
  gamma?: VariableLike | null;
  beta?: VariableLike | null;
  movingMean: VariableLike;
  movingVariance: VariableLike;
}

interface ZeroPaddingLike {
  dataFormat: string;
  padding: [[number, number], [number, number]];
}

/**
 * The layers that read each symbolic tensor (by id), once per read, from the executor's graph walk
 * ({@link readersOf}); the model's outputs count as a reader (`null`), so they are never folded through.
 */
function readersByTensor(model: LayersModel): Map<number, (Layer | null)[]> {
  const readers = new Map<number, (Layer | null)[]>(
    [...readersOf(model.outputs)].map(([id, nodes]) => [id, nodes.map((n) => n.outboundLayer as Layer)]),
  );
  for (const out of model.outputs) readers.set(out.id, [...(readers.get(out.id) ?? []), null]);
  return readers;
}

function pair(v: number | number[]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0] ?? 1, v[1] ?? v[0] ?? 1];
}

/** The per-channel scale `γ/√(σ²+ε)` and shift `β − μ·scale` of an inference-mode batch-norm. */
function scaleShift(bn: BatchNormLike): { scale: tf.Tensor1D; shift: tf.Tensor1D } {
  const mean = bn.movingMean.read() as tf.Tensor1D;
  const rs = tf.rsqrt(tf.add(bn.movingVariance.read(), bn.epsilon));
  const scale = (bn.gamma != null ? tf.mul(rs, bn.gamma.read()) : rs) as tf.Tensor1D;
  const centred = tf.neg(tf.mul(mean, scale));
  const shift = (bn.beta != null ? tf.add(centred, bn.beta.read()) : centred) as tf.Tensor1D;
  return { scale, shift };
}

/** Padding of a fused convolution: the layer's own, or explicit `[[0, 0], [top, bottom], [left, right], [0, 0]]`. */
type ConvPad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** Activation fused into the convolution. */
type FusedActivation = 'linear' | 'relu' | 'relu6';

/**
 * Folded weights kept between calls (the wasm backend packs a convolution's
 * filter once per filter tensor, so a fresh filter per call would repack it
 * every time), re-folded when any source weight has been assigned since, and
 * the fused convolution that uses them.
 */
interface FoldedConv {
  run(x: tf.Tensor, pad: ConvPad, activation: FusedActivation): tf.Tensor;
  dispose(): void;
}

function foldedConv(
  sources: () => tf.Tensor[],
  fold: () => [tf.Tensor4D, tf.Tensor1D],
  run: (x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, pad: ConvPad, activation: FusedActivation) => tf.Tensor,
): FoldedConv {
  let ids: unknown[] = [];
  let weights: [tf.Tensor4D, tf.Tensor1D] | null = null;
  const current = (): [tf.Tensor4D, tf.Tensor1D] => {
    const now = sources().map((t) => t.dataId);
    if (weights == null || now.some((id, i) => id !== ids[i])) {
      if (weights != null) tf.dispose(weights);
      weights = tf.tidy(fold);
      tf.keep(weights[0]);
      tf.keep(weights[1]);
      ids = now;
    }
    return weights;
  };
  current();
  return {
    run: (x, pad, activation) => {
      const [filter, bias] = current();
      return run(x as tf.Tensor4D, filter, bias, pad, activation);
    },
    dispose: () => {
      if (weights != null) tf.dispose(weights);
      weights = null;
    },
  };
}

/** The fused convolution for `bn` after `conv`, or null when folding would not be exact (see {@link batchNormFolds}). */
function foldOf(conv: ConvLike, bn: BatchNormLike): FoldedConv | null {
  const kind = conv.getClassName();
  if (kind !== 'Conv2D' && kind !== 'DepthwiseConv2D') return null;
  if (conv.dataFormat !== 'channelsLast' || (bn.axis !== -1 && bn.axis !== 3)) return null;
  if (conv.padding !== 'same' && conv.padding !== 'valid') return null;
  if (conv.activation != null && conv.activation.getClassName() !== 'linear') return null;
  const kernel = kind === 'Conv2D' ? conv.kernel : conv.depthwiseKernel;
  if (kernel == null) return null;
  const strides = pair(conv.strides);
  const sources = (): tf.Tensor[] =>
    [kernel, conv.bias, bn.gamma, bn.beta, bn.movingMean, bn.movingVariance].filter((v): v is VariableLike => v != null).map((v) => v.read());
  const bias = (scale: tf.Tensor1D, shift: tf.Tensor1D): tf.Tensor1D =>
    conv.bias != null ? (tf.add(tf.mul(conv.bias.read(), scale), shift) as tf.Tensor1D) : shift;
  if (kind === 'Conv2D') {
    const dilations = pair(conv.dilationRate);
    return foldedConv(
      sources,
      () => {
        const { scale, shift } = scaleShift(bn);
        return [tf.mul(kernel.read(), scale) as tf.Tensor4D, bias(scale, shift)];
      },
      (x, filter, b, pad, activation) => tf.fused.conv2d({ x, filter, strides, pad, dilations, dataFormat: 'NHWC', bias: b, activation }),
    );
  }
  // tfjs-layers' DepthwiseConv2D ignores its dilation rate (it always convolves with dilation 1).
  return foldedConv(
    sources,
    () => {
      const { scale, shift } = scaleShift(bn);
      const k = kernel.read() as tf.Tensor4D; // [kh, kw, in, multiplier]; output channel = c·multiplier + j
      return [tf.mul(k, tf.reshape(scale, [k.shape[2], k.shape[3]])) as tf.Tensor4D, bias(scale, shift)];
    },
    // tfjs types this op's padding without the explicit form, which its kernels accept (computeConv2DInfo).
    (x, filter, b, pad, activation) =>
      tf.fused.depthwiseConv2d({ x, filter, strides, pad: pad as 'same', dilations: [1, 1], dataFormat: 'NHWC', bias: b, activation }),
  );
}

/** The single application of `layer` with a single input, or null. */
function onlyNode(layer: Layer): Layer['inboundNodes'][number] | null {
  if (layer.inboundNodes.length !== 1) return null;
  const node = layer.inboundNodes[0];
  return node != null && node.inputTensors.length === 1 && node.outputTensors.length === 1 ? node : null;
}

/** The sole reader of `t` (a layer applied once to it alone), or null. */
function soleReader(t: SymbolicTensor, readers: Map<number, (Layer | null)[]>): Layer | null {
  const list = readers.get(t.id);
  if (list == null || list.length !== 1) return null;
  const layer = list[0];
  return layer != null && onlyNode(layer) != null ? layer : null;
}

/** The activation a layer applies when it is a ReLU or ReLU6 (a `ReLU` or an `Activation` layer), else null. */
function reluOf(layer: Layer): FusedActivation | null {
  const kind = layer.getClassName();
  if (kind === 'ReLU') {
    const max = (layer as unknown as { maxValue?: number | null }).maxValue;
    return max == null ? 'relu' : max === 6 ? 'relu6' : null;
  }
  if (kind === 'Activation') {
    const name = (layer as unknown as { activation?: { getClassName(): string } }).activation?.getClassName();
    return name === 'relu' || name === 'relu6' ? name : null;
  }
  return null;
}

/** The zero padding before a `'valid'` convolution whose input is its only use, as an explicit conv padding. */
function paddingBefore(conv: ConvLike, convIn: SymbolicTensor, readers: Map<number, (Layer | null)[]>): { input: SymbolicTensor; pad: ConvPad } | null {
  if (conv.padding !== 'valid') return null;
  const layer = convIn.sourceLayer;
  if (layer.getClassName() !== 'ZeroPadding2D' || readers.get(convIn.id)?.length !== 1) return null;
  const node = onlyNode(layer);
  const zp = layer as unknown as ZeroPaddingLike;
  if (node == null || zp.dataFormat !== 'channelsLast') return null;
  const [[top, bottom], [left, right]] = zp.padding;
  return { input: node.inputTensors[0] as SymbolicTensor, pad: [[0, 0], [top, bottom], [left, right], [0, 0]] };
}

/** The folds of a model and the release of their weights. */
export interface BatchNormFolds {
  /** Folds keyed by the layer whose output they compute, preferred first. */
  readonly folds: ReadonlyMap<Layer, readonly BatchNormFold[]>;
  /** Frees the folded weights (the model's own weights are untouched). */
  dispose(): void;
}

/**
 * The batch-norm layers of a model that fold exactly into the convolution
 * before them: a `BatchNormalization` over the last axis, applied once, whose
 * input is the only use of the output of a `Conv2D` or `DepthwiseConv2D`
 * (channels last, `'same'`/`'valid'` padding, linear activation) that is itself
 * applied once. In inference mode such a pair is one affine map of the
 * convolution's input, so the folded forward pass computes the same function
 * with one kernel instead of two, and its gradient w.r.t. the input is the same
 * too. Keyed by the batch-norm layer.
 *
 * Two more folds are used outside a gradient tape only ({@link BatchNormFold.untapedOnly}):
 * - a `ZeroPadding2D` (channels last) whose output only a `'valid'` convolution
 *   reads becomes that convolution's explicit padding (also keyed by the
 *   batch-norm, before its plain fold);
 * - a `ReLU` (no maximum, or 6) or `Activation('relu' | 'relu6')` layer that is
 *   the only reader of the batch-norm's output becomes the fused kernel's
 *   activation, keyed by that layer.
 * Both compute the same values (zero padding is what a convolution's padding
 * adds; the activation is applied to the same pre-activation).
 *
 * The folded weights are computed here (two tensors per batch-norm) and kept
 * until `dispose()`; a fold whose source weights have been assigned since is
 * recomputed on its next use.
 */
export function batchNormFolds(model: LayersModel): BatchNormFolds {
  const convs: FoldedConv[] = [];
  const folds = new Map<Layer, BatchNormFold[]>();
  const readers = readersByTensor(model);
  try {
    for (const layer of model.layers) {
      if (layer.getClassName() !== 'BatchNormalization') continue;
      const node = onlyNode(layer);
      if (node == null) continue;
      const convOut = node.inputTensors[0] as SymbolicTensor;
      const bnOut = node.outputTensors[0] as SymbolicTensor;
      const conv = convOut.sourceLayer;
      const convNode = onlyNode(conv);
      if (convNode == null || readers.get(convOut.id)?.length !== 1) continue;
      const convIn = convNode.inputTensors[0] as SymbolicTensor;
      const folded = foldOf(conv as unknown as ConvLike, layer as unknown as BatchNormLike);
      if (folded == null) continue;
      convs.push(folded);
      const ownPad = (conv as unknown as ConvLike).padding as 'same' | 'valid';
      const padded = paddingBefore(conv as unknown as ConvLike, convIn, readers);
      const input = padded?.input ?? convIn;
      const pad = padded?.pad ?? ownPad;
      const skipped = padded != null ? [convIn, convOut] : [convOut];
      const plain: BatchNormFold = { input: convIn, through: [convOut], untapedOnly: false, apply: (x) => folded.run(x, ownPad, 'linear') };
      folds.set(layer, padded != null ? [{ input, through: skipped, untapedOnly: true, apply: (x) => folded.run(x, pad, 'linear') }, plain] : [plain]);
      const act = soleReader(bnOut, readers);
      const activation = act == null ? null : reluOf(act);
      if (act != null && activation != null) {
        folds.set(act, [{ input, through: [...skipped, bnOut], untapedOnly: true, apply: (x) => folded.run(x, pad, activation) }]);
      }
    }
  } catch (e) {
    for (const c of convs) c.dispose();
    throw e;
  }
  return { folds, dispose: () => convs.forEach((c) => c.dispose()) };
}
