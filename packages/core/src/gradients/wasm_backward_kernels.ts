import * as tf from '@tensorflow/tfjs-core';
import {
  Composite, convInfoOf, NotCovered, same, zeros,
  type AnyKernelFunc, type Attrs, type Info, type KernelArgs,
} from './composite.js';
import {
  col2imOnHeap, derivedTensor, heapOffset, sliceOnHeap, wasmHeapOf, type WasmBackendLike,
} from './wasm_heap.js';
import { maxPoolGradOnHeap } from './max_pool_grad.js';
import { simdModuleBytes, wasmSimdKernels, type WasmSimdKernels } from './wasm_simd.js';

/**
 * Names of the private kernels {@link registerFastBackwardKernels} adds to the
 * wasm backend; the fast gradients of `withFastGradients` use them when the
 * active backend has them and tfjs ops otherwise.
 *
 * - `clipGrad` — inputs `x`, `dy` (same shape, float32), attributes
 *   `clipValueMin`, `clipValueMax`: `x ∈ [min, max] ? dy : 0`.
 * - `reluGrad` — inputs `x`, `dy` (same shape, float32): `dy · (x > 0 ? 1 : 0)`.
 * - `guidedReluGrad` — inputs `x`, `dy` (same shape, float32): `x > 0 && dy > 0 ? dy : 0`
 *   (guided backpropagation's `relu` gradient).
 * - `scaleChannels` — inputs `dy` (float32, last axis C), `a` ([C]) and optional
 *   `b` ([C]): `(dy · a) · b` broadcast along the last axis.
 * - `slice` — input `x` (float32 or int32), attributes `begin`, `size`: like `Slice`,
 *   copied in contiguous runs.
 */
export const FAST_BACKWARD_KERNELS: Readonly<{
  /** `x ∈ [clipValueMin, clipValueMax] ? dy : 0` (the gradient of `clipByValue`). */
  clipGrad: '_SaliencyClipByValueGrad';
  /** `dy · (x > 0 ? 1 : 0)` (the gradient of `relu`). */
  reluGrad: '_SaliencyReluGrad';
  /** `x > 0 && dy > 0 ? dy : 0` (guided backpropagation's gradient of `relu`). */
  guidedReluGrad: '_SaliencyGuidedReluGrad';
  /** `(dy · a) · b` along the last axis (the input gradient of batch norm). */
  scaleChannels: '_SaliencyScaleChannels';
  /** `Slice` copied in contiguous runs (the gradient of `pad`). */
  slice: '_SaliencySlice';
}> = Object.freeze({
  clipGrad: '_SaliencyClipByValueGrad',
  reluGrad: '_SaliencyReluGrad',
  guidedReluGrad: '_SaliencyGuidedReluGrad',
  scaleChannels: '_SaliencyScaleChannels',
  slice: '_SaliencySlice',
} as const);

/** What {@link registerFastBackwardKernels} did on one backend. */
export interface FastBackwardKernels {
  /** The backend, e.g. `'wasm'`. */
  readonly backend: string;
  /** Kernels it replaced with faster ones (the originals still run what those do not cover). */
  readonly replaced: readonly string[];
  /** Private kernels it added (see {@link FAST_BACKWARD_KERNELS}). */
  readonly added: readonly string[];
}

type Heap = { backend: WasmBackendLike; memory: WebAssembly.Memory; simd: WasmSimdKernels | null };

function heapOf(backend: unknown): Heap {
  const memory = wasmHeapOf(backend);
  if (memory == null) throw new Error('@saliency: this kernel needs the tfjs wasm backend');
  return { backend: backend as WasmBackendLike, memory, simd: wasmSimdKernels(memory) };
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Conv2DBackpropInput on wasm from its fast kernels, instead of wasm's own direct
 * loops (~10× slower than its forward conv):
 * - stride 1: a Conv2D (XNNPACK) of the output gradient with the filter flipped
 *   spatially and with its channel axes swapped, with the conv's explicit padding:
 *     dx[n,i,j,ci] = Σ_{kh,kw,co} dy[n, i+pt−kh, j+pl−kw, co] · W[kh,kw,ci,co]
 * - stride > 1: a matrix product (XNNPACK) of the output gradient with the
 *   transposed filter — one row of filter-tap values per output position — summed
 *   back into the input's shape (col2im), which skips the zeros a stride-dilated
 *   conv would multiply.
 * The transformed filter is made once per filter tensor (see `derivedTensor`).
 * Paddings beyond the filter size and NCHW data throw {@link NotCovered}.
 */
function conv2DBackpropInputComposite(c: Composite, inputs: Record<string, Info>, attrs: Attrs): Info {
  const { dy, filter } = inputs;
  const inputShape = (attrs as Record<string, unknown>).inputShape as number[];
  const ci = convInfoOf(inputShape, filter.shape, { ...attrs, dilations: 1 }, false);
  const [n, outH, outW, cout] = dy.shape;
  const [fh, fw, cin] = filter.shape;
  const [, inH, inW] = inputShape;
  if (outH !== ci.outHeight || outW !== ci.outWidth || cout !== ci.outChannels || n !== inputShape[0] || cin !== inputShape[3]) {
    throw new NotCovered('shape');
  }
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') throw new NotCovered('dtype');
  if (n * outH * outW === 0 || cout === 0) return zeros(c.backend, inputShape);
  const sh = ci.strideHeight, sw = ci.strideWidth, pt = ci.padInfo.top, pl = ci.padInfo.left;
  const { backend, memory } = heapOf(c.backend);
  if (sh > 1 || sw > 1) {
    const k = fh * fw * cin;
    const wg = derivedTensor(c.backend, filter, 'Conv2DBackpropInput/gemm', () =>
      c.release(c.transpose(c.reshape(filter, [k, cout]), [1, 0]))); // [Co, fh·fw·Ci]
    const col = c.run('BatchMatMul', { a: c.reshape(dy, [1, n * outH * outW, cout]), b: c.reshape(wg, [1, cout, k]) },
      { transposeA: false, transposeB: false }); // [1, N·OH·OW, fh·fw·Ci]
    return c.adopt(col2imOnHeap(backend, memory, col, inputShape, outH, outW, fh, fw, sh, sw, pt, pl));
  }
  const top = fh - 1 - pt, left = fw - 1 - pl;
  const bottom = inH + pt - outH, right = inW + pl - outW;
  if (Math.min(top, bottom, left, right) < 0) throw new NotCovered('padding');
  const wt = derivedTensor(c.backend, filter, 'Conv2DBackpropInput/flip', () => {
    const flipped = fh * fw === 1 ? filter : c.run('Reverse', { x: filter }, { dims: [0, 1] });
    return c.release(c.transpose(flipped, [0, 1, 3, 2])); // [fh, fw, Co, Ci]
  });
  const g = c.run('Conv2D', { x: dy, filter: wt }, {
    strides: [1, 1], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dataFormat: 'NHWC', dilations: [1, 1],
  });
  if (!same(g.shape, inputShape)) throw new NotCovered(`internal shape ${g.shape}`);
  return g;
}

/** `x ∈ [clipValueMin, clipValueMax] ? dy : 0` with the SIMD kernel. */
function clipGradKernel({ inputs, attrs, backend }: KernelArgs): Info {
  const { x, dy } = inputs as Record<string, Info>;
  const { clipValueMin, clipValueMax } = (attrs ?? {}) as { clipValueMin: number; clipValueMax: number };
  const h = heapOf(backend);
  if (h.simd == null) throw new Error(`@saliency: ${FAST_BACKWARD_KERNELS.clipGrad} needs WebAssembly SIMD`);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || !same(x.shape, dy.shape)) {
    throw new Error(`@saliency: ${FAST_BACKWARD_KERNELS.clipGrad} takes float32 x and dy of one shape`);
  }
  const out = h.backend.makeOutput(dy.shape.slice(), 'float32');
  h.simd.clipGrad(heapOffset(h.backend, x), heapOffset(h.backend, dy), heapOffset(h.backend, out), sizeOf(dy.shape),
    clipValueMin, clipValueMax);
  return out;
}

/** `dy · (x > 0 ? 1 : 0)` with the SIMD kernel. */
function reluGradKernel({ inputs, backend }: KernelArgs): Info {
  const { x, dy } = inputs as Record<string, Info>;
  const h = heapOf(backend);
  if (h.simd == null) throw new Error(`@saliency: ${FAST_BACKWARD_KERNELS.reluGrad} needs WebAssembly SIMD`);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || !same(x.shape, dy.shape)) {
    throw new Error(`@saliency: ${FAST_BACKWARD_KERNELS.reluGrad} takes float32 x and dy of one shape`);
  }
  const out = h.backend.makeOutput(dy.shape.slice(), 'float32');
  h.simd.reluGrad(heapOffset(h.backend, x), heapOffset(h.backend, dy), heapOffset(h.backend, out), sizeOf(dy.shape));
  return out;
}

/** `x > 0 && dy > 0 ? dy : 0` with the SIMD kernel. */
function guidedReluGradKernel({ inputs, backend }: KernelArgs): Info {
  const { x, dy } = inputs as Record<string, Info>;
  const h = heapOf(backend);
  if (h.simd == null) throw new Error(`@saliency: ${FAST_BACKWARD_KERNELS.guidedReluGrad} needs WebAssembly SIMD`);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || !same(x.shape, dy.shape)) {
    throw new Error(`@saliency: ${FAST_BACKWARD_KERNELS.guidedReluGrad} takes float32 x and dy of one shape`);
  }
  const out = h.backend.makeOutput(dy.shape.slice(), 'float32');
  h.simd.guidedReluGrad(heapOffset(h.backend, x), heapOffset(h.backend, dy), heapOffset(h.backend, out), sizeOf(dy.shape));
  return out;
}

/** `(dy · a) · b` along the last axis with the SIMD kernel. */
function scaleChannelsKernel({ inputs, backend }: KernelArgs): Info {
  const { dy, a, b } = inputs as Record<string, Info | undefined>;
  if (dy == null || a == null) throw new Error(`@saliency: ${FAST_BACKWARD_KERNELS.scaleChannels} needs dy and a`);
  const h = heapOf(backend);
  if (h.simd == null) throw new Error(`@saliency: ${FAST_BACKWARD_KERNELS.scaleChannels} needs WebAssembly SIMD`);
  const c = dy.shape.length === 0 ? 1 : dy.shape[dy.shape.length - 1];
  const ok = (t: Info | undefined): boolean => t == null || (t.dtype === 'float32' && sizeOf(t.shape) === c && t.shape.length <= 1);
  if (dy.dtype !== 'float32' || dy.shape.length === 0 || !ok(a) || !ok(b)) {
    throw new Error(`@saliency: ${FAST_BACKWARD_KERNELS.scaleChannels} takes float32 dy [..., C] and a, b of shape [C]`);
  }
  const out = h.backend.makeOutput(dy.shape.slice(), 'float32');
  const rows = c === 0 ? 0 : sizeOf(dy.shape) / c;
  const o = heapOffset(h.backend, out), d = heapOffset(h.backend, dy), pa = heapOffset(h.backend, a);
  if (b == null) h.simd.scaleChannels(d, pa, o, rows, c);
  else h.simd.scaleChannels2(d, pa, heapOffset(h.backend, b), o, rows, c);
  return out;
}

/** Slice in contiguous runs on the heap. */
function sliceKernel({ inputs, attrs, backend }: KernelArgs): Info {
  const { x } = inputs as Record<string, Info>;
  const { begin, size } = (attrs ?? {}) as { begin: number[]; size: number[] };
  const h = heapOf(backend);
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`@saliency: ${FAST_BACKWARD_KERNELS.slice} takes float32 or int32 data`);
  const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
  for (let k = 0; k < x.shape.length; k++) {
    if (b[k] < 0 || s[k] < 0 || b[k] + s[k] > x.shape[k]) throw new Error(`@saliency: ${FAST_BACKWARD_KERNELS.slice}: box out of range`);
  }
  return sliceOnHeap(h.backend, h.memory, x, b, s);
}

const registered = new Map<string, FastBackwardKernels>();

/**
 * Registers faster backward kernels on the tfjs wasm backend. Idempotent; a
 * no-op (empty lists) for any other backend name or where the kernels cannot be
 * built (no WebAssembly SIMD: then only the conv and max-pool replacements are made).
 *
 * - `Conv2DBackpropInput` is replaced by XNNPACK work: a Conv2D of the flipped,
 *   channel-swapped filter over the padded output gradient (stride 1), or a
 *   matrix product with the transposed filter followed by col2im (stride > 1).
 *   wasm's own kernel is a direct loop, ~10× slower than its forward conv; it
 *   still runs what the replacement does not cover: NCHW data, non-float dtypes,
 *   explicit paddings beyond the filter size. The transformed filter is kept on
 *   the backend while the filter lives (one extra copy of each conv's weights).
 * - `MaxPoolGrad` is replaced by one equal to the cpu backend's bit for bit: wasm's own sends
 *   a tied maximum's gradient to the LAST tied element (cpu, torch: the first) and gives a
 *   window whose values are all ≤ 0 no gradient at all. Not a speed-up: a correctness fix.
 * - `Slice` (float32 and int32) is replaced by a copy of the box alone, in contiguous runs on the
 *   heap: wasm's own kernel first copies its WHOLE input out of the heap (`readSync`) on every
 *   call, so taking one image out of a batch of 16 at 224² copied 9.6 MB to keep 0.6 MB (SESS
 *   around SmoothGrad on MobileNetV2 spent 23 % of its kernel time in `Slice`). Other dtypes and
 *   scalars keep wasm's kernel. The values are the same bits.
 * - the private kernels of {@link FAST_BACKWARD_KERNELS} are added; the gradients
 *   installed by `withFastGradients` use them (clipByValue, relu, batch norm, pad).
 *
 * Values equal tfjs's own kernels up to float32 rounding (the conv sums in
 * another order); the element-wise kernels are bit-exact.
 *
 * @param backendName - the backend to speed up; only `'wasm'` has fast kernels.
 * @returns what was replaced and added on that backend (by this or an earlier call).
 *
 * @example
 * ```ts
 * await tf.setBackend('wasm');
 * registerFastBackwardKernels('wasm'); // { replaced: ['Conv2DBackpropInput', 'MaxPoolGrad', 'Slice'], added: [...] }
 * ```
 */
export function registerFastBackwardKernels(backendName = 'wasm'): FastBackwardKernels {
  const done = registered.get(backendName);
  if (done != null) return done;
  const result = { backend: backendName, replaced: [] as string[], added: [] as string[] };
  if (backendName !== 'wasm' || tf.findBackendFactory(backendName) == null) return result;
  const needs = ['Conv2D', 'Reverse', 'Transpose', 'Reshape', 'BatchMatMul'];
  const original = tf.getKernel('Conv2DBackpropInput', backendName);
  if (original != null && needs.every((k) => tf.getKernel(k, backendName) != null)) {
    const fallback = original.kernelFunc as unknown as AnyKernelFunc;
    const kernelFunc: AnyKernelFunc = (args) => {
      const c = new Composite(backendName, args.backend);
      try {
        return c.finish(conv2DBackpropInputComposite(c, args.inputs as Record<string, Info>, args.attrs ?? {}));
      } catch (e) {
        c.dispose();
        if (e instanceof NotCovered) return fallback(args);
        throw e;
      }
    };
    tf.unregisterKernel('Conv2DBackpropInput', backendName);
    tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    result.replaced.push('Conv2DBackpropInput');
  }
  const originalPool = tf.getKernel('MaxPoolGrad', backendName);
  if (originalPool != null) {
    const fallback = originalPool.kernelFunc as unknown as AnyKernelFunc;
    const kernelFunc: AnyKernelFunc = (args) => {
      const memory = wasmHeapOf(args.backend);
      return (memory == null ? null : maxPoolGradOnHeap(args, memory)) ?? fallback(args);
    };
    tf.unregisterKernel('MaxPoolGrad', backendName);
    tf.registerKernel({ ...originalPool, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    result.replaced.push('MaxPoolGrad');
  }
  const originalSlice = tf.getKernel('Slice', backendName);
  if (originalSlice != null) {
    const fallback = originalSlice.kernelFunc as unknown as AnyKernelFunc;
    const kernelFunc: AnyKernelFunc = (args) => {
      const { x } = args.inputs as Record<string, Info>;
      const memory = wasmHeapOf(args.backend);
      if (memory == null || (x.dtype !== 'float32' && x.dtype !== 'int32') || x.shape.length === 0) return fallback(args);
      const { begin, size } = (args.attrs ?? {}) as { begin: number[]; size: number[] };
      const [b, sz] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
      return sliceOnHeap(args.backend as WasmBackendLike, memory, x, b, sz);
    };
    tf.unregisterKernel('Slice', backendName);
    tf.registerKernel({ ...originalSlice, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    result.replaced.push('Slice');
  }
  const simdOk = typeof WebAssembly !== 'undefined' && WebAssembly.validate(simdModuleBytes(false));
  const own: Array<[string, AnyKernelFunc, boolean]> = [
    [FAST_BACKWARD_KERNELS.clipGrad, clipGradKernel, simdOk],
    [FAST_BACKWARD_KERNELS.reluGrad, reluGradKernel, simdOk],
    [FAST_BACKWARD_KERNELS.guidedReluGrad, guidedReluGradKernel, simdOk],
    [FAST_BACKWARD_KERNELS.scaleChannels, scaleChannelsKernel, simdOk],
    [FAST_BACKWARD_KERNELS.slice, sliceKernel, true],
  ];
  for (const [name, fn, ok] of own) {
    if (!ok || tf.getKernel(name, backendName) != null) continue;
    tf.registerKernel({ kernelName: name, backendName, kernelFunc: fn as unknown as tf.KernelFunc });
    result.added.push(name);
  }
  registered.set(backendName, result);
  return result;
}
