/**
 * Work done directly on the tfjs wasm backend's heap (its `WebAssembly.Memory`):
 * finding a tensor's bytes, copies that tfjs's wasm kernels do slowly or not at
 * all (stride dilation + padding, strided slices, col2im), and tensors derived
 * from a filter kept for as long as the filter lives.
 *
 * Internal to `@saliency/core` (not exported from its entry points).
 * @packageDocumentation
 */

/** The parts of tfjs's `BackendWasm` the kernels use (4.x). */
export interface WasmBackendLike {
  wasm: { asm?: { memory?: unknown }; wasmMemory?: unknown } | null;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): { dataId: object; shape: number[]; dtype: 'float32' };
}

/**
 * The `WebAssembly.Memory` of a tfjs wasm backend instance: the shared memory of
 * the threaded build (`Module.wasmMemory`) or the exported memory of the
 * single-threaded builds (`Module.asm.memory`); null for anything else.
 *
 * @param backend - a backend instance (`tf.findBackend('wasm')`).
 */
export function wasmHeapOf(backend: unknown): WebAssembly.Memory | null {
  const b = backend as Partial<WasmBackendLike> | null;
  const m = b?.wasm;
  if (m == null || b?.dataIdMap == null || typeof b.makeOutput !== 'function') return null;
  const mem = m.wasmMemory ?? m.asm?.memory;
  return typeof WebAssembly !== 'undefined' && mem instanceof WebAssembly.Memory ? mem : null;
}

/** A float32 / int32 tensor living on a wasm backend's heap. */
type HeapInfo = { dataId: object; shape: number[]; dtype: string };

/** Byte offset of a tensor's data on the heap (4-byte aligned: tfjs `malloc`s every tensor). */
export function heapOffset(backend: WasmBackendLike, t: HeapInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (d == null) throw new Error('@saliency: tensor data not found on the wasm backend');
  return d.memoryOffset >>> 0;
}

/**
 * A new NHWC float32 tensor on the heap: `x` dilated by the strides (zeros
 * between rows and columns) and zero-padded, in one pass —
 * `out[n, top + i·sh, left + j·sw, c] = x[n, i, j, c]`, zero elsewhere; its
 * shape is `[N, top + (H−1)·sh + 1 + bottom, left + (W−1)·sw + 1 + right, C]`.
 * Paddings must be ≥ 0. The caller owns the result.
 *
 * @param backend - the wasm backend instance; `memory` its heap.
 */
export function dilatePadOnHeap(
  backend: WasmBackendLike, memory: WebAssembly.Memory, x: HeapInfo,
  sh: number, sw: number, top: number, bottom: number, left: number, right: number,
): { dataId: object; shape: number[]; dtype: 'float32' } {
  const [n, h, w, c] = x.shape;
  const oh = top + (h - 1) * sh + 1 + bottom, ow = left + (w - 1) * sw + 1 + right;
  const out = backend.makeOutput([n, oh, ow, c], 'float32');
  const heap = new Int32Array(memory.buffer); // raw 4-byte copies (float bits kept exactly)
  const o = heapOffset(backend, out) / 4, s = heapOffset(backend, x) / 4;
  heap.fill(0, o, o + n * oh * ow * c);
  const rowIn = w * c;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      const src = s + (b * h + i) * rowIn;
      const dst = o + ((b * oh + top + i * sh) * ow + left) * c;
      if (sw === 1) {
        heap.copyWithin(dst, src, src + rowIn);
      } else {
        for (let j = 0; j < w; j++) heap.copyWithin(dst + j * sw * c, src + j * c, src + j * c + c);
      }
    }
  }
  return out;
}

/**
 * A new tensor on the heap holding the box `x[begin … begin + size)` of a
 * 4-byte-dtype tensor (float32 or int32), copied in contiguous runs (whole
 * trailing blocks at once). The caller owns the result.
 */
export function sliceOnHeap(
  backend: WasmBackendLike, memory: WebAssembly.Memory, x: HeapInfo, begin: number[], size: number[],
): { dataId: object; shape: number[]; dtype: 'float32' } {
  const rank = x.shape.length;
  const out = backend.makeOutput(size.slice(), x.dtype as 'float32');
  const total = size.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  const strides = new Array<number>(rank);
  let acc = 1;
  for (let k = rank - 1; k >= 0; k--) { strides[k] = acc; acc *= x.shape[k]; }
  // Trailing axes taken whole form one contiguous run, together with the first partial axis before them.
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && size[k] === x.shape[k]) k--;
  const run = size.slice(k).reduce((a, b) => a * b, 1);
  const heap = new Int32Array(memory.buffer);
  const o = heapOffset(backend, out) / 4, s = heapOffset(backend, x) / 4;
  // Iterate over the leading axes 0 … k−1 (an odometer over `size`).
  const idx = new Array<number>(k).fill(0);
  const count = total / run;
  let dst = o;
  for (let r = 0; r < count; r++) {
    let src = s + begin[k] * strides[k];
    for (let a = 0; a < k; a++) src += (begin[a] + idx[a]) * strides[a];
    heap.copyWithin(dst, src, src + run);
    dst += run;
    for (let a = k - 1; a >= 0; a--) {
      if (++idx[a] < size[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

/** A backend whose data can be freed (every tfjs KernelBackend). */
interface Disposing {
  disposeData(dataId: object, force?: boolean): boolean;
}

/** backend → source data id → kind → derived tensor on that backend. */
const derivedCache = new WeakMap<object, Map<object, Map<string, HeapInfo>>>();

/**
 * A tensor derived from `source` (a transposed or flipped filter, say), made once
 * by `make` and kept on the backend for as long as `source`'s data lives: the
 * backend's `disposeData` is wrapped (once per backend instance) so that freeing
 * `source` frees what was derived from it. Model weights keep their data id from
 * call to call (inside `withFastGradients` the tape's copies share it too), so
 * the work of `make` — and XNNPACK's packing of the new filter, which tfjs caches
 * per filter tensor — is done once per model instead of once per gradient.
 * `make` must return a tensor the caller does not free.
 */
export function derivedTensor<T extends HeapInfo>(backend: unknown, source: HeapInfo, kind: string, make: () => T): T {
  const b = backend as Disposing & object;
  let bySource = derivedCache.get(b);
  if (bySource == null) {
    bySource = new Map();
    derivedCache.set(b, bySource);
    const cache = bySource;
    const original = b.disposeData;
    b.disposeData = function disposeDataAndDerived(this: Disposing, dataId: object, force?: boolean): boolean {
      const freed = original.call(this, dataId, force);
      if (freed) {
        const kinds = cache.get(dataId);
        if (kinds != null) {
          cache.delete(dataId);
          for (const t of kinds.values()) original.call(this, t.dataId, true);
        }
      }
      return freed;
    };
  }
  let kinds = bySource.get(source.dataId);
  if (kinds == null) {
    kinds = new Map();
    bySource.set(source.dataId, kinds);
  }
  const hit = kinds.get(kind);
  if (hit != null) return hit as T;
  const made = make();
  kinds.set(kind, made);
  return made;
}

/**
 * A new NHWC float32 tensor on the heap: the sum of the columns `col`
 * (`[N·OH·OW, fh·fw·C]`, one row of filter-tap values per output position) back
 * into the image they were gathered from (col2im, the adjoint of im2col):
 *   out[n, oy·sh + kh − pt, ox·sw + kw − pl, c] += col[(n, oy, ox), (kh, kw, c)]
 * Taps that fall in the padding are dropped. The caller owns the result.
 */
export function col2imOnHeap(
  backend: WasmBackendLike, memory: WebAssembly.Memory, col: HeapInfo, outShape: number[],
  oh: number, ow: number, fh: number, fw: number, sh: number, sw: number, pt: number, pl: number,
): { dataId: object; shape: number[]; dtype: 'float32' } {
  const [n, h, w, c] = outShape;
  const out = backend.makeOutput(outShape.slice(), 'float32');
  const heap = new Float32Array(memory.buffer);
  const o = heapOffset(backend, out) / 4, s = heapOffset(backend, col) / 4;
  heap.fill(0, o, o + n * h * w * c);
  const k = fh * fw * c;
  let row = s;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++, row += k) {
        for (let kh = 0; kh < fh; kh++) {
          const iy = oy * sh + kh - pt;
          if (iy < 0 || iy >= h) continue;
          for (let kw = 0; kw < fw; kw++) {
            const ix = ox * sw + kw - pl;
            if (ix < 0 || ix >= w) continue;
            const dst = o + ((b * h + iy) * w + ix) * c;
            const src = row + (kh * fw + kw) * c;
            for (let j = 0; j < c; j++) heap[dst + j] += heap[src + j];
          }
        }
      }
    }
  }
  return out;
}
