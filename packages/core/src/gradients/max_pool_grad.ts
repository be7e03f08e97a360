/**
 * A `MaxPoolGrad` kernel for the tfjs wasm backend that equals the cpu backend's bit for bit.
 * tfjs-backend-wasm 4.22's own starts each window's maximum from the smallest POSITIVE float
 * (so a window whose values are all ≤ 0 gets no gradient) and sends a tied maximum's gradient to
 * the LAST tied element; the cpu backend (and torch) send it to the FIRST, in row-major window
 * order, and give every window one.
 *
 * Internal to `@saliency/core` (registered by `registerFastBackwardKernels`).
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Info, KernelArgs } from './composite.js';
import { heapOffset, type WasmBackendLike } from './wasm_heap.js';

/**
 * `dx` of a 2-D max pool (NHWC, float32) computed on the wasm heap as the cpu backend does:
 * each output's window is scanned row by row from −∞ with a strict `>`, so its FIRST maximum
 * (row-major) takes the output's gradient (a window of NaNs takes none); contributions to one
 * input element are summed in double precision in increasing output order, then rounded to
 * float32 once — the cpu kernel's arithmetic, so the result is identical.
 *
 * @param memory - the backend's heap.
 * @returns the gradient, or null when the inputs are not covered (not float32): the caller
 *   then runs wasm's own kernel.
 */
export function maxPoolGradOnHeap(args: KernelArgs, memory: WebAssembly.Memory): Info | null {
  const { dy, input: x } = args.inputs as Record<string, Info>;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || x.shape.length !== 4) return null;
  const backend = args.backend as unknown as WasmBackendLike;
  const { filterSize, strides, pad, dimRoundingMode } = (args.attrs ?? {}) as unknown as {
    filterSize: number | [number, number]; strides: number | [number, number];
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding; dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const ci = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const [n, inH, inW, C] = x.shape as [number, number, number, number];
  const { outHeight: outH, outWidth: outW, strideHeight: sh, strideWidth: sw } = ci;
  const fh = ci.effectiveFilterHeight, fw = ci.effectiveFilterWidth;
  const pt = ci.padInfo.top, pl = ci.padInfo.left;
  if (dy.shape[0] !== n || dy.shape[1] !== outH || dy.shape[2] !== outW || dy.shape[3] !== C) return null;
  const acc = new Float64Array(n * inH * inW * C);
  // Views are made after every allocation on the heap (growing it detaches older views).
  const xs = new Float32Array(memory.buffer, heapOffset(backend, x), acc.length);
  const dys = new Float32Array(memory.buffer, heapOffset(backend, dy), n * outH * outW * C);
  for (let b = 0; b < n; b++) {
    for (let yR = 0; yR < outH; yR++) {
      const r0 = yR * sh - pt;
      const rMin = Math.max(0, r0), rMax = Math.min(inH, r0 + fh);
      for (let yC = 0; yC < outW; yC++) {
        const c0 = yC * sw - pl;
        const cMin = Math.max(0, c0), cMax = Math.min(inW, c0 + fw);
        for (let d = 0; d < C; d++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let r = rMin; r < rMax; r++) {
            for (let c = cMin; c < cMax; c++) {
              const i = ((b * inH + r) * inW + c) * C + d;
              const v = xs[i] as number;
              if (v > best) {
                best = v;
                at = i;
              }
            }
          }
          if (at >= 0) acc[at] = (acc[at] as number) + (dys[((b * outH + yR) * outW + yC) * C + d] as number);
        }
      }
    }
  }
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  new Float32Array(memory.buffer, heapOffset(backend, out), acc.length).set(acc);
  return out;
}
