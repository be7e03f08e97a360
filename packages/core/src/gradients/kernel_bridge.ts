import * as tf from '@tensorflow/tfjs-core';
import {
  Composite, convInfoOf, io, kernelFuncOf, makeInfo, NotCovered, same, zeros,
  type AnyKernelFunc, type Attrs, type ConvInfo, type Info, type InputMap, type KernelArgs,
} from './composite.js';
import { derivedTensor, dilatePadOnHeap, wasmHeapOf, type WasmBackendLike } from './wasm_heap.js';

/**
 * Kernels that the gradients of common conv nets need: every kernel the
 * forward and backward pass of `tf.grad` ran on the cpu backend through
 * Conv2D (plain and fused, with every layers activation), DepthwiseConv2D
 * (multipliers 1 and 2), SeparableConv2D, batch norm, max/average/global
 * pooling, zero padding, up-sampling, concatenation, residual adds, dense
 * layers, layer normalisation, dropout (inference), softmax/log and a one-hot
 * class mask, plus the gradients of `tf.gather`, `tf.pad`, `tf.mirrorPad`,
 * `tf.image.resizeBilinear`, `tf.tile`, `tf.stack`, `tf.transpose` and
 * `tf.clipByValue` (tfjs-core 4.22, measured with `tf.profile`).
 *
 * The backward-only kernels in the list are `AvgPoolGrad`, `Conv2DBackpropFilter`,
 * `Conv2DBackpropInput`, `DepthwiseConv2dNativeBackpropFilter`,
 * `DepthwiseConv2dNativeBackpropInput`, `EluGrad`, `MaxPoolGrad`,
 * `ResizeBilinearGrad`, `ResizeNearestNeighborGrad` and `UnsortedSegmentSum`
 * (the gradient of `GatherV2`). tfjs has no `ReluGrad`/`Relu6Grad`/`SigmoidGrad`
 * kernels: those gradients are built from `Step`, `Select`, `Multiply` and friends.
 *
 * On the wasm backend (4.22) exactly four of them are missing:
 * `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropFilter`,
 * `DepthwiseConv2dNativeBackpropInput` and `UnsortedSegmentSum`.
 */
export const GRADIENT_KERNELS: readonly string[] = Object.freeze([
  'Abs', 'Add', 'AvgPool', 'AvgPoolGrad', 'BatchMatMul', 'Cast', 'ClipByValue', 'Concat',
  'Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNative',
  'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'Elu', 'EluGrad',
  'Equal', 'Exp', 'FusedBatchNorm', 'FusedConv2D', 'FusedDepthwiseConv2D', 'GatherV2', 'Greater',
  'GreaterEqual', 'Identity', 'LeakyRelu', 'LessEqual', 'Log', 'LogicalAnd', 'Max', 'MaxPool',
  'MaxPoolGrad', 'Maximum', 'Mean', 'Minimum', 'MirrorPad', 'Multiply', 'Neg', 'Pack', 'PadV2',
  'Prelu', 'RealDiv', 'Relu', 'Relu6', 'Reshape', 'ResizeBilinear', 'ResizeBilinearGrad',
  'ResizeNearestNeighbor', 'ResizeNearestNeighborGrad', 'Rsqrt', 'Select', 'Selu', 'Sigmoid',
  'Slice', 'Softmax', 'Softplus', 'SplitV', 'Sqrt', 'Square', 'Step', 'Sub', 'Sum', 'Tanh', 'Tile',
  'Transpose', 'Unpack', 'UnsortedSegmentSum', 'ZerosLike', '_FusedMatMul',
]);

/** How {@link bridgeMissingKernels} filled one missing kernel. */
export interface BridgedKernel {
  /** The kernel name, e.g. `'Conv2DBackpropFilter'`. */
  readonly kernel: string;
  /** The backend the kernel was registered on. */
  readonly backend: string;
  /**
   * `'composite'`: built from the backend's own kernels (no data leaves the
   * backend; falls back to `fallback` only for attribute combinations the
   * composite does not cover, such as NCHW data). `'fallback'`: every call
   * copies the inputs to `fallback`, runs its kernel there and copies the result back.
   */
  readonly implementation: 'composite' | 'fallback';
  /** The backend that runs the kernel when the composite cannot (or always, for `'fallback'`). */
  readonly fallback: string;
}

/**
 * The kernels of `names` that have no implementation registered for `backendName`.
 *
 * Checks the kernel registry only (`tf.getKernel`), so it works before the
 * backend is initialised, and never runs a kernel. Check this before a `tf.grad`
 * on a real model: a `tf.grad` that throws part-way leaks its intermediate tensors.
 *
 * @param backendName - a registered backend name, e.g. `'wasm'`.
 * @param names - kernel names to check; defaults to {@link GRADIENT_KERNELS}.
 * @returns the missing names, in the order of `names`.
 *
 * @example
 * ```ts
 * missingKernels('wasm'); // ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', ...]
 * ```
 */
export function missingKernels(backendName: string, names: readonly string[] = GRADIENT_KERNELS): string[] {
  return names.filter((name) => tf.getKernel(name, backendName) == null);
}

// ---------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------

const registry = new Map<string, BridgedKernel>();
const keyOf = (backend: string, kernel: string): string => `${backend}\u0000${kernel}`;

/**
 * Runs `name` on the fallback backend: copies the inputs there, runs the
 * fallback's kernel, copies the outputs back and frees the fallback's copies.
 */
function runOnFallback(name: string, fallbackName: string, args: KernelArgs): Info | Info[] {
  const fallback = tf.findBackend(fallbackName);
  if (fallback == null) {
    throw new Error(`@saliency: kernel '${name}' needs the '${fallbackName}' backend, which is not registered (import '@tensorflow/tfjs-backend-${fallbackName}')`);
  }
  const fb = io(fallback);
  const target = io(args.backend);
  const kernel = kernelFuncOf(name, fallbackName);
  const copies: Info[] = [];
  const copy = (t: Info | null | undefined): Info | null | undefined => {
    if (t == null) return t;
    const c = makeInfo(fb, t.shape.slice(), t.dtype, target.readSync(t.dataId));
    copies.push(c);
    return c;
  };
  const inputs: InputMap = Array.isArray(args.inputs)
    ? args.inputs.map(copy)
    : Object.fromEntries(Object.entries(args.inputs).map(([k, t]) => [k, copy(t)]));
  let outs: Info[] = [];
  try {
    const out = kernel({ inputs, attrs: args.attrs, backend: fallback });
    outs = Array.isArray(out) ? out : [out];
    const back = outs.map((o) => makeInfo(target, o.shape.slice(), o.dtype, fb.readSync(o.dataId)));
    return Array.isArray(out) ? back : back[0];
  } finally {
    for (const o of outs) fb.disposeData(o.dataId);
    for (const c of copies) fb.disposeData(c.dataId);
  }
}

/**
 * Pads/crops an NHWC input so that output position o and filter tap k read
 * row `o*stride + k*dilation` of the result (exactly the rows the forward
 * conv read, padding zeros included).
 */
function alignedInput(c: Composite, x: Info, ci: ConvInfo, outH: number, outW: number): Info | null {
  const needH = (outH - 1) * ci.strideHeight + (ci.filterHeight - 1) * ci.dilationHeight + 1;
  const needW = (outW - 1) * ci.strideWidth + (ci.filterWidth - 1) * ci.dilationWidth + 1;
  const top = ci.padInfo.top, left = ci.padInfo.left;
  return c.padOrCrop(x, top, needH - x.shape[1] - top, left, needW - x.shape[2] - left);
}

/**
 * Conv2DBackpropFilter from Transpose + PadV2 + Conv2D: the filter gradient is
 * a convolution of the (transposed) input with the (transposed) output
 * gradient as filter, dilated by the forward stride.
 *   dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s+kh−pt, ow·s+kw−pl, ci] · dy[n,oh,ow,co]
 */
function conv2DBackpropFilterComposite(c: Composite, inputs: Record<string, Info>, attrs: Attrs): Info {
  const { x, dy } = inputs;
  const filterShape = (attrs as Record<string, unknown>).filterShape as number[];
  const ci = convInfoOf(x.shape, filterShape, { ...attrs, dilations: 1 }, false);
  const [n, outH, outW, co] = dy.shape;
  if (outH !== ci.outHeight || outW !== ci.outWidth || co !== ci.outChannels || n !== x.shape[0]) throw new NotCovered('shape');
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new NotCovered('dtype');
  const [fh, fw, cin] = filterShape;
  const xp = alignedInput(c, x, ci, outH, outW);
  if (xp == null || n * outH * outW === 0) return zeros(c.backend, filterShape);
  const xt = c.transpose(xp, [3, 1, 2, 0]); // [Ci, Hp, Wp, N]
  const dyt = c.transpose(dy, [1, 2, 0, 3]); // [oh, ow, N, Co]
  const g = c.run('Conv2D', { x: xt, filter: dyt }, {
    strides: [1, 1], pad: 'valid', dataFormat: 'NHWC',
    dilations: [ci.strideHeight, ci.strideWidth],
  }); // [Ci, fh, fw, Co]
  if (!same(g.shape, [cin, fh, fw, co])) throw new NotCovered(`internal shape ${g.shape}`);
  return c.transpose(g, [1, 2, 0, 3]);
}

/**
 * DepthwiseConv2dNativeBackpropFilter from Transpose + PadV2 + DepthwiseConv2dNative:
 * batch and channel are folded into the channel axis, the output gradient is
 * the (depthwise) filter, dilated by the forward stride; the batch is then summed.
 *   dW[kh,kw,c,m] = Σ_{n,oh,ow} x[n, oh·s+kh·d−pt, ow·s+kw·d−pl, c] · dy[n,oh,ow,c·M+m]
 */
function depthwiseBackpropFilterComposite(c: Composite, inputs: Record<string, Info>, attrs: Attrs): Info {
  const { x, dy } = inputs;
  const filterShape = (attrs as Record<string, unknown>).filterShape as number[];
  const ci = convInfoOf(x.shape, filterShape, attrs, true);
  const [n, outH, outW, k] = dy.shape;
  const [fh, fw, ch, m] = filterShape;
  if (outH !== ci.outHeight || outW !== ci.outWidth || k !== ch * m || n !== x.shape[0] || ch !== x.shape[3]) {
    throw new NotCovered('shape');
  }
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new NotCovered('dtype');
  const xp = alignedInput(c, x, ci, outH, outW);
  if (xp == null || n * outH * outW === 0) return zeros(c.backend, filterShape);
  const [, hp, wp] = xp.shape;
  const xin = n === 1 ? c.reshape(xp, [1, hp, wp, ch]) : c.reshape(c.transpose(xp, [1, 2, 0, 3]), [1, hp, wp, n * ch]);
  const f = n === 1 ? c.reshape(dy, [outH, outW, ch, m]) : c.reshape(c.transpose(dy, [1, 2, 0, 3]), [outH, outW, n * ch, m]);
  let g = c.run('DepthwiseConv2dNative', { x: xin, filter: f }, {
    strides: [1, 1], pad: 'valid', dilations: [ci.strideHeight, ci.strideWidth],
  }); // [1, (fh-1)·dh+1, (fw-1)·dw+1, N·C·M]
  const effH = (fh - 1) * ci.dilationHeight + 1, effW = (fw - 1) * ci.dilationWidth + 1;
  if (!same(g.shape, [1, effH, effW, n * ch * m])) throw new NotCovered(`internal shape ${g.shape}`);
  if (ci.dilationHeight > 1 || ci.dilationWidth > 1) {
    g = c.run('StridedSlice', { x: g }, {
      begin: [0, 0, 0, 0], end: [1, effH, effW, n * ch * m], strides: [1, ci.dilationHeight, ci.dilationWidth, 1],
      beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
    });
  }
  if (n > 1) {
    g = c.run('Sum', { x: c.reshape(g, [fh, fw, n, ch * m]) }, { axis: [2], keepDims: false });
  }
  return c.reshape(g, [fh, fw, ch, m]);
}

/**
 * DepthwiseConv2dNativeBackpropInput from DepthwiseConv2dNative of the output
 * gradient with the spatially flipped filter (+ Sum for channel multipliers > 1):
 * the output gradient is dilated by the stride (zeros between rows/columns) and
 * padded so that a stride-1 correlation with the flipped filter covers the input
 * exactly.
 *   dx[n,i,j,c] = Σ_{kh,kw,m} dy[n, (i+pt−kh·d)/s, (j+pl−kw·d)/s, c·M+m] · W[kh,kw,c,m]
 * Stride 1: the padding is the conv's own explicit padding (no copy). Stride > 1:
 * on the wasm backend one pass on its heap dilates and pads; elsewhere
 * Reshape + PadV2 do. Negative paddings (crops) go through Slice. On wasm the
 * flipped filter is kept while the filter lives (see `derivedTensor`).
 */
function depthwiseBackpropInputComposite(c: Composite, inputs: Record<string, Info>, attrs: Attrs): Info {
  const { dy, filter } = inputs;
  const inputShape = (attrs as Record<string, unknown>).inputShape as number[];
  const ci = convInfoOf(inputShape, filter.shape, attrs, true);
  const [n, outH, outW, k] = dy.shape;
  const [fh, fw, ch, m] = filter.shape;
  const [, inH, inW] = inputShape;
  if (outH !== ci.outHeight || outW !== ci.outWidth || k !== ch * m || n !== inputShape[0] || ch !== inputShape[3]) {
    throw new NotCovered('shape');
  }
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') throw new NotCovered('dtype');
  const sh = ci.strideHeight, sw = ci.strideWidth, dh = ci.dilationHeight, dw = ci.dilationWidth;
  if (n * outH * outW === 0) return zeros(c.backend, inputShape);
  // Padding of the stride-dilated dy ((outH−1)·sh + 1 rows) so that
  // dx[i] = Σ_kh' dp[i + kh'·dh] · Wflip[kh'] for i in [0, inH).
  const top = (fh - 1) * dh - ci.padInfo.top, left = (fw - 1) * dw - ci.padInfo.left;
  const bottom = inH + ci.padInfo.top - ((outH - 1) * sh + 1), right = inW + ci.padInfo.left - ((outW - 1) * sw + 1);
  const heap = wasmHeapOf(c.backend);
  const flip = (): Info => c.run('Reverse', { x: c.reshape(filter, [fh, fw, k, 1]) }, { dims: [0, 1] });
  // On wasm the flipped filter is made once per filter tensor (and XNNPACK packs it once).
  const f = heap == null ? flip()
    : derivedTensor(c.backend, filter, 'DepthwiseConv2dNativeBackpropInput/flip', () => c.release(flip()));
  const conv = (x: Info, pad: Attrs['pad']): Info =>
    c.run('DepthwiseConv2dNative', { x, filter: f }, { strides: [1, 1], pad, dilations: [dh, dw] });
  let g: Info;
  if (Math.min(top, bottom, left, right) >= 0 && sh === 1 && sw === 1) {
    g = conv(dy, [[0, 0], [top, bottom], [left, right], [0, 0]]);
  } else if (Math.min(top, bottom, left, right) >= 0 && heap != null) {
    g = conv(c.adopt(dilatePadOnHeap(c.backend as WasmBackendLike, heap, dy, sh, sw, top, bottom, left, right)), 'valid');
  } else {
    // 1. dilate dy by the stride: [N, oh·sh, ow·sw, K], dy[o] at row o·sh.
    let d = dy;
    if (sh > 1 || sw > 1) {
      d = c.reshape(d, [n, outH, 1, outW, 1, k]);
      d = c.run('PadV2', { x: d }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
      d = c.reshape(d, [n, outH * sh, outW * sw, k]);
    }
    // 2. pad/crop (the dilation above added sh−1 trailing rows already).
    const dp = c.padOrCrop(d, top, bottom - (sh - 1), left, right - (sw - 1));
    if (dp == null) return zeros(c.backend, inputShape);
    g = conv(dp, 'valid');
  }
  if (!same(g.shape, [n, inH, inW, k])) throw new NotCovered(`internal shape ${g.shape}`);
  // Sum the channel multiplier.
  if (m > 1) g = c.run('Sum', { x: c.reshape(g, [n, inH, inW, ch, m]) }, { axis: [4], keepDims: false });
  return g;
}

/**
 * UnsortedSegmentSum from ScatterNd (which sums duplicate indices), for float32
 * data and 1-D ids. Ids outside [0, numSegments) are dropped, as the cpu kernel
 * does, by sending them to an extra segment that is sliced off.
 */
function unsortedSegmentSumComposite(c: Composite, inputs: Record<string, Info>, attrs: Attrs): Info {
  const { x, segmentIds } = inputs;
  const numSegments = (attrs as Record<string, unknown>).numSegments as number;
  if (segmentIds.shape.length !== 1 || x.shape.length < 1 || x.shape[0] !== segmentIds.shape[0]) throw new NotCovered('rank');
  // int32 data runs on the fallback: the cpu kernel returns float32 for it, and
  // results must not depend on the backend (gradients are float32 anyway).
  if (x.dtype !== 'float32') throw new NotCovered('dtype');
  if (segmentIds.dtype !== 'int32') throw new NotCovered('ids dtype');
  const rest = x.shape.slice(1);
  const n = segmentIds.shape[0];
  if (n === 0) {
    return zeros(c.backend, [numSegments, ...rest]);
  }
  const ids = io(c.backend).readSync(segmentIds.dataId) as Int32Array;
  let valid = true;
  for (let i = 0; i < n; i++) if (ids[i] < 0 || ids[i] >= numSegments) { valid = false; break; }
  if (valid) {
    const indices = c.reshape(segmentIds, [n, 1]);
    return c.run('ScatterNd', { indices, updates: x }, { shape: [numSegments, ...rest] });
  }
  const safe = new Int32Array(n);
  for (let i = 0; i < n; i++) safe[i] = ids[i] < 0 || ids[i] >= numSegments ? numSegments : ids[i];
  const indices = c.constant(safe, [n, 1], 'int32');
  const all = c.run('ScatterNd', { indices, updates: x }, { shape: [numSegments + 1, ...rest] });
  return c.run('Slice', { x: all }, { begin: [0, ...rest.map(() => 0)], size: [numSegments, ...rest] });
}

interface CompositeSpec {
  /** Kernels of the target backend the composite runs. */
  readonly needs: readonly string[];
  readonly impl: (c: Composite, inputs: Record<string, Info>, attrs: Attrs) => Info;
}

const COMPOSITES: Readonly<Record<string, CompositeSpec>> = {
  Conv2DBackpropFilter: { needs: ['Transpose', 'PadV2', 'Slice', 'Conv2D'], impl: conv2DBackpropFilterComposite },
  DepthwiseConv2dNativeBackpropFilter: {
    needs: ['Transpose', 'Reshape', 'PadV2', 'Slice', 'DepthwiseConv2dNative', 'StridedSlice', 'Sum'],
    impl: depthwiseBackpropFilterComposite,
  },
  DepthwiseConv2dNativeBackpropInput: {
    needs: ['Reshape', 'PadV2', 'Slice', 'Reverse', 'DepthwiseConv2dNative', 'Sum'],
    impl: depthwiseBackpropInputComposite,
  },
  UnsortedSegmentSum: { needs: ['Reshape', 'ScatterNd', 'Slice'], impl: unsortedSegmentSumComposite },
};

function compositeKernel(name: string, backendName: string, fallbackName: string, spec: CompositeSpec): AnyKernelFunc {
  return (args) => {
    const c = new Composite(backendName, args.backend);
    try {
      const result = spec.impl(c, args.inputs as Record<string, Info>, args.attrs ?? {});
      return c.finish(result);
    } catch (e) {
      c.dispose();
      if (e instanceof NotCovered && tf.getKernel(name, fallbackName) != null && fallbackName !== backendName) {
        return runOnFallback(name, fallbackName, args);
      }
      throw e;
    }
  };
}

/**
 * Registers, on `backendName`, every kernel of {@link GRADIENT_KERNELS} it lacks,
 * so that `tf.grad` works through conv nets there (the wasm backend lacks four).
 *
 * Each missing kernel gets one of two implementations:
 * - a composite of the backend's own kernels, exact up to float rounding, when
 *   one is known and the backend has every kernel it uses —
 *   `Conv2DBackpropFilter` (Conv2D of the transposed input with the transposed
 *   output gradient, dilated by the stride), `DepthwiseConv2dNativeBackpropFilter`
 *   (likewise with DepthwiseConv2dNative), `DepthwiseConv2dNativeBackpropInput`
 *   (DepthwiseConv2dNative of the stride-dilated, padded output gradient with the
 *   flipped filter) and `UnsortedSegmentSum` (ScatterNd). Attribute combinations
 *   a composite does not cover (NCHW data, non-float dtypes) run on `fallback`;
 * - otherwise a bridge to `fallback`: each call copies the inputs there
 *   (`readSync` on the target, `makeTensorInfo` on the fallback), runs the
 *   fallback's own kernel, copies the outputs back and frees the fallback's copies.
 *
 * Idempotent: kernels already registered (by tfjs or by an earlier call) are left alone.
 * A kernel the fallback lacks too, or one that needs the fallback while it is
 * not registered, is skipped: check {@link missingKernels} afterwards.
 *
 * @param backendName - the backend to complete, e.g. `'wasm'`.
 * @param fallback - the backend that runs what the target cannot; default `'cpu'`
 *   (import `@tensorflow/tfjs-backend-cpu` so it is registered).
 * @returns the names of the kernels registered by this call (empty when none were missing).
 *
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-cpu';
 * import '@tensorflow/tfjs-backend-wasm';
 * await tf.setBackend('wasm');
 * bridgeMissingKernels('wasm'); // ['Conv2DBackpropFilter', ...]
 * bridgeMissingKernels('wasm'); // []
 * ```
 */
export function bridgeMissingKernels(backendName: string, fallback = 'cpu'): string[] {
  const done: string[] = [];
  const fallbackRegistered = fallback !== backendName && tf.findBackend(fallback) != null;
  for (const name of missingKernels(backendName)) {
    const spec = COMPOSITES[name];
    const useComposite = spec != null && missingKernels(backendName, spec.needs).length === 0;
    const fallbackHas = fallbackRegistered && tf.getKernel(name, fallback) != null;
    if (!useComposite && !fallbackHas) continue;
    const kernelFunc: AnyKernelFunc = useComposite
      ? compositeKernel(name, backendName, fallback, spec)
      : (args) => runOnFallback(name, fallback, args);
    tf.registerKernel({ kernelName: name, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    registry.set(keyOf(backendName, name), {
      kernel: name, backend: backendName, implementation: useComposite ? 'composite' : 'fallback', fallback,
    });
    done.push(name);
  }
  return done;
}

/**
 * How the kernels registered by {@link bridgeMissingKernels} on `backendName`
 * are implemented (empty when it bridged none there).
 *
 * @param backendName - e.g. `'wasm'`.
 */
export function bridgedKernels(backendName: string): BridgedKernel[] {
  return [...registry.values()].filter((b) => b.backend === backendName && tf.getKernel(b.kernel, backendName) != null);
}
