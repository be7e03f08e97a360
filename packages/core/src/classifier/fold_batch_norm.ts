import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';

type Layer = LayersModel['layers'][number];

/**
 * An inference-mode batch-norm folded into the convolution before it: `apply`
 * computes the batch-norm's output straight from the convolution's input with
 * one fused convolution whose weights are `W·s` and bias `(b − μ)·s + β`,
 * `s = γ / √(σ² + ε)`.
 */
export interface BatchNormFold {
  /** The convolution's input: what `apply` reads. */
  readonly input: SymbolicTensor;
  /** The batch-norm's output for a value of {@link BatchNormFold.input}. */
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

/** How many inputs of the model's layers read each symbolic tensor (by id). */
function consumerCounts(model: LayersModel): Map<number, number> {
  const counts = new Map<number, number>();
  for (const layer of model.layers) {
    for (const node of layer.inboundNodes) {
      for (const t of node.inputTensors) counts.set(t.id, (counts.get(t.id) ?? 0) + 1);
    }
  }
  for (const out of model.outputs) counts.set(out.id, (counts.get(out.id) ?? 0) + 1);
  return counts;
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

/** A fold that owns its folded weights: computed once, recomputed only when a source weight changes. */
interface OwnedFold extends BatchNormFold {
  dispose(): void;
}

/**
 * Folded weights kept between calls (the wasm backend packs a convolution's
 * filter once per filter tensor, so a fresh filter per call would repack it
 * every time), re-folded when any source weight has been assigned since.
 */
function ownedFold(
  input: SymbolicTensor,
  sources: () => tf.Tensor[],
  fold: () => [tf.Tensor4D, tf.Tensor1D],
  run: (x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D) => tf.Tensor,
): OwnedFold {
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
    input,
    apply: (x) => {
      const [filter, bias] = current();
      return run(x as tf.Tensor4D, filter, bias);
    },
    dispose: () => {
      if (weights != null) tf.dispose(weights);
      weights = null;
    },
  };
}

/** A fold for `bn` after `conv`, or null when folding would not be exact (see {@link batchNormFolds}). */
function foldOf(conv: ConvLike, bn: BatchNormLike, input: SymbolicTensor): OwnedFold | null {
  const kind = conv.getClassName();
  if (kind !== 'Conv2D' && kind !== 'DepthwiseConv2D') return null;
  if (conv.dataFormat !== 'channelsLast' || (bn.axis !== -1 && bn.axis !== 3)) return null;
  if (conv.padding !== 'same' && conv.padding !== 'valid') return null;
  if (conv.activation != null && conv.activation.getClassName() !== 'linear') return null;
  const kernel = kind === 'Conv2D' ? conv.kernel : conv.depthwiseKernel;
  if (kernel == null) return null;
  const pad = conv.padding;
  const strides = pair(conv.strides);
  const sources = (): tf.Tensor[] =>
    [kernel, conv.bias, bn.gamma, bn.beta, bn.movingMean, bn.movingVariance].filter((v): v is VariableLike => v != null).map((v) => v.read());
  const bias = (scale: tf.Tensor1D, shift: tf.Tensor1D): tf.Tensor1D =>
    conv.bias != null ? (tf.add(tf.mul(conv.bias.read(), scale), shift) as tf.Tensor1D) : shift;
  if (kind === 'Conv2D') {
    const dilations = pair(conv.dilationRate);
    return ownedFold(
      input,
      sources,
      () => {
        const { scale, shift } = scaleShift(bn);
        return [tf.mul(kernel.read(), scale) as tf.Tensor4D, bias(scale, shift)];
      },
      (x, filter, b) => tf.fused.conv2d({ x, filter, strides, pad, dilations, dataFormat: 'NHWC', bias: b }),
    );
  }
  // tfjs-layers' DepthwiseConv2D ignores its dilation rate (it always convolves with dilation 1).
  return ownedFold(
    input,
    sources,
    () => {
      const { scale, shift } = scaleShift(bn);
      const k = kernel.read() as tf.Tensor4D; // [kh, kw, in, multiplier]; output channel = c·multiplier + j
      return [tf.mul(k, tf.reshape(scale, [k.shape[2], k.shape[3]])) as tf.Tensor4D, bias(scale, shift)];
    },
    (x, filter, b) => tf.fused.depthwiseConv2d({ x, filter, strides, pad, dilations: [1, 1], dataFormat: 'NHWC', bias: b }),
  );
}

/** The folds of a model and the release of their weights. */
export interface BatchNormFolds {
  /** Folds keyed by the batch-norm layer. */
  readonly folds: ReadonlyMap<Layer, BatchNormFold>;
  /** Frees the folded weights (the model's own weights are untouched). */
  dispose(): void;
}

/**
 * The batch-norm layers of a model that fold exactly into the convolution
 * before them, keyed by the batch-norm layer: a `BatchNormalization` over the
 * last axis, applied once, whose input is the only use of the output of a
 * `Conv2D` or `DepthwiseConv2D` (channels last, `'same'`/`'valid'` padding,
 * linear activation) that is itself applied once. In inference mode such a
 * pair is one affine map of the convolution's input, so the folded forward
 * pass computes the same function with one kernel instead of two, and its
 * gradient w.r.t. the input is the same too.
 *
 * The folded weights are computed here (two tensors per fold) and kept until
 * `dispose()`; a fold whose source weights have been assigned since is
 * recomputed on its next use.
 */
export function batchNormFolds(model: LayersModel): BatchNormFolds {
  const folds = new Map<Layer, OwnedFold>();
  const consumers = consumerCounts(model);
  try {
    for (const layer of model.layers) {
      if (layer.getClassName() !== 'BatchNormalization' || layer.inboundNodes.length !== 1) continue;
      const node = layer.inboundNodes[0];
      if (node == null || node.inputTensors.length !== 1) continue;
      const convOut = node.inputTensors[0] as SymbolicTensor;
      const conv = convOut.sourceLayer;
      if (conv.inboundNodes.length !== 1 || consumers.get(convOut.id) !== 1) continue;
      const convNode = conv.inboundNodes[0];
      if (convNode == null || convNode.inputTensors.length !== 1) continue;
      const fold = foldOf(conv as unknown as ConvLike, layer as unknown as BatchNormLike, convNode.inputTensors[0] as SymbolicTensor);
      if (fold != null) folds.set(layer, fold);
    }
  } catch (e) {
    for (const f of folds.values()) f.dispose();
    throw e;
  }
  return { folds, dispose: () => folds.forEach((f) => f.dispose()) };
}
