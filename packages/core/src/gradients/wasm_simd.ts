/**
 * Small WebAssembly SIMD kernels that run directly on the tfjs wasm backend's
 * heap, for the element-wise steps of backward passes that tfjs's wasm backend
 * runs as several slow kernels (comparisons, logical ops and `Select` for the
 * gradient of `clipByValue`; `Step`, `Cast` and `Multiply` for that of `relu`;
 * `Relu`, `Step` and `Multiply` for guided backpropagation's `relu` gradient;
 * `Tile` + two `Multiply`s for that of batch norm).
 *
 * The module is assembled here, byte by byte (a few dozen instructions, so no
 * tool chain and no file to ship), and imports the backend's own
 * `WebAssembly.Memory`, so kernels read and write tensors in place by their
 * heap offsets, with no copy. It needs WebAssembly SIMD (every engine that runs
 * tfjs's SIMD wasm build has it); where it cannot be compiled,
 * {@link wasmSimdKernels} returns null and callers use tfjs ops instead.
 *
 * Internal to `@saliency/core` (not exported from its entry points).
 * @packageDocumentation
 */

/** The kernels, on byte offsets into the backend's heap (float32 data). */
export interface WasmSimdKernels {
  /** The memory they work on. */
  readonly memory: WebAssembly.Memory;
  /**
   * `out[i] = lo ≤ x[i] ≤ hi ? dy[i] : 0` for `i < n` — exactly tfjs's gradient
   * of `clipByValue` (`where(x ≥ lo && x ≤ hi, dy, 0)`; NaN in `x` gives 0).
   */
  clipGrad(x: number, dy: number, out: number, n: number, lo: number, hi: number): void;
  /**
   * `out[i] = dy[i] · (x[i] > 0 ? 1 : 0)` for `i < n` — exactly tfjs's gradient of
   * `relu` on wasm (`dy · cast(step(x))`; wasm's `step` gives 0 for NaN).
   */
  reluGrad(x: number, dy: number, out: number, n: number): void;
  /**
   * `out[i] = x[i] > 0 && dy[i] > 0 ? dy[i] : +0` for `i < n` — the guided-backpropagation
   * gradient of `relu` (`relu(dy) · step(x)`) in one pass, the dropped values as `+0` (a bitwise
   * AND with the mask; `relu(dy) · step(x)` gives `−0` only for `dy = −0`); NaN in `x` or `dy` gives 0.
   */
  guidedReluGrad(x: number, dy: number, out: number, n: number): void;
  /** `out[r·c + j] = dy[r·c + j] · a[j]` for `r < rows`, `j < c` (float32 products, one rounding). */
  scaleChannels(dy: number, a: number, out: number, rows: number, c: number): void;
  /** `out[r·c + j] = (dy[r·c + j] · a[j]) · b[j]` (two float32 roundings, in that order). */
  scaleChannels2(dy: number, a: number, b: number, out: number, rows: number, c: number): void;
}

// --- a minimal WebAssembly binary encoder -----------------------------------

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function str(s: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(s));
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** Instruction helpers (each returns the encoded bytes). */
const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  f32: (v: number) => {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return [0x43, ...b];
  },
  add: [0x6a],
  mul: [0x6c],
  and: [0x71],
  shl: [0x74],
  geU: [0x4f],
  f32Load: [0x2a, 0x00, 0x00],
  f32Store: [0x38, 0x00, 0x00],
  f32Ge: [0x60],
  f32Gt: [0x5e],
  f32Le: [0x5f],
  f32Mul: [0x94],
  select: [0x1b],
  v128Load: [0xfd, ...uleb(0), 0x00, 0x00],
  v128Store: [0xfd, ...uleb(11), 0x00, 0x00],
  f32x4Splat: [0xfd, ...uleb(19)],
  v128And: [0xfd, ...uleb(78)],
  f32x4Gt: [0xfd, ...uleb(68)],
  f32x4Le: [0xfd, ...uleb(69)],
  f32x4Ge: [0xfd, ...uleb(70)],
  f32x4Mul: [0xfd, ...uleb(230)],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  end: [0x0b],
};

/** `while (local[i] <u local[limit]) { body; local[i] += step }` */
function whileBelow(i: number, limit: number, step: number, body: number[]): number[] {
  return [
    ...op.block, ...op.loop,
    ...op.get(i), ...op.get(limit), ...op.geU, ...op.brIf(1),
    ...body,
    ...op.get(i), ...op.i32(step), ...op.add, ...op.set(i),
    ...op.br(0),
    ...op.end, ...op.end,
  ];
}

/** `local[i] + local[base]` (a byte address). */
const addr = (base: number, i: number): number[] => [...op.get(base), ...op.get(i), ...op.add];

/** clipGrad(x, dy, out, n, lo, hi) */
function clipGradBody(): { locals: number[][]; code: number[] } {
  const [x, dy, out, n, lo, hi] = [0, 1, 2, 3, 4, 5];
  const [i, endV, end, xs] = [6, 7, 8, 9]; // i32 ×3, f32
  const [lo4, hi4, xv] = [10, 11, 12]; // v128 ×3
  const code = [
    ...op.get(n), ...op.i32(~3), ...op.and, ...op.i32(2), ...op.shl, ...op.set(endV),
    ...op.get(n), ...op.i32(2), ...op.shl, ...op.set(end),
    ...op.get(lo), ...op.f32x4Splat, ...op.set(lo4),
    ...op.get(hi), ...op.f32x4Splat, ...op.set(hi4),
    ...op.i32(0), ...op.set(i),
    ...whileBelow(i, endV, 16, [
      ...addr(out, i),
      ...addr(x, i), ...op.v128Load, ...op.tee(xv), ...op.get(lo4), ...op.f32x4Ge,
      ...op.get(xv), ...op.get(hi4), ...op.f32x4Le, ...op.v128And,
      ...addr(dy, i), ...op.v128Load, ...op.v128And,
      ...op.v128Store,
    ]),
    ...whileBelow(i, end, 4, [
      ...addr(out, i),
      ...addr(dy, i), ...op.f32Load, ...op.f32(0),
      ...addr(x, i), ...op.f32Load, ...op.tee(xs), ...op.get(lo), ...op.f32Ge,
      ...op.get(xs), ...op.get(hi), ...op.f32Le, ...op.and,
      ...op.select,
      ...op.f32Store,
    ]),
  ];
  return { locals: [[...uleb(3), I32], [...uleb(1), F32], [...uleb(3), V128]], code };
}

/** reluGrad(x, dy, out, n) */
function reluGradBody(): { locals: number[][]; code: number[] } {
  const [x, dy, out, n] = [0, 1, 2, 3];
  const [i, endV, end] = [4, 5, 6]; // i32 ×3
  const [zero4, one4] = [7, 8]; // v128 ×2
  const code = [
    ...op.get(n), ...op.i32(~3), ...op.and, ...op.i32(2), ...op.shl, ...op.set(endV),
    ...op.get(n), ...op.i32(2), ...op.shl, ...op.set(end),
    ...op.f32(0), ...op.f32x4Splat, ...op.set(zero4),
    ...op.f32(1), ...op.f32x4Splat, ...op.set(one4),
    ...op.i32(0), ...op.set(i),
    ...whileBelow(i, endV, 16, [
      ...addr(out, i),
      ...addr(dy, i), ...op.v128Load,
      ...addr(x, i), ...op.v128Load, ...op.get(zero4), ...op.f32x4Gt, ...op.get(one4), ...op.v128And,
      ...op.f32x4Mul,
      ...op.v128Store,
    ]),
    ...whileBelow(i, end, 4, [
      ...addr(out, i),
      ...addr(dy, i), ...op.f32Load,
      ...op.f32(1), ...op.f32(0), ...addr(x, i), ...op.f32Load, ...op.f32(0), ...op.f32Gt, ...op.select,
      ...op.f32Mul,
      ...op.f32Store,
    ]),
  ];
  return { locals: [[...uleb(3), I32], [...uleb(2), V128]], code };
}

/** guidedReluGrad(x, dy, out, n) */
function guidedReluGradBody(): { locals: number[][]; code: number[] } {
  const [x, dy, out, n] = [0, 1, 2, 3];
  const [i, endV, end] = [4, 5, 6]; // i32 ×3
  const ds = 7; // f32
  const [zero4, dv] = [8, 9]; // v128 ×2
  const code = [
    ...op.get(n), ...op.i32(~3), ...op.and, ...op.i32(2), ...op.shl, ...op.set(endV),
    ...op.get(n), ...op.i32(2), ...op.shl, ...op.set(end),
    ...op.f32(0), ...op.f32x4Splat, ...op.set(zero4),
    ...op.i32(0), ...op.set(i),
    ...whileBelow(i, endV, 16, [
      ...addr(out, i),
      ...addr(dy, i), ...op.v128Load, ...op.tee(dv),
      ...op.get(dv), ...op.get(zero4), ...op.f32x4Gt, ...op.v128And,
      ...addr(x, i), ...op.v128Load, ...op.get(zero4), ...op.f32x4Gt, ...op.v128And,
      ...op.v128Store,
    ]),
    ...whileBelow(i, end, 4, [
      ...addr(out, i),
      ...addr(dy, i), ...op.f32Load, ...op.tee(ds), ...op.f32(0),
      ...op.get(ds), ...op.f32(0), ...op.f32Gt,
      ...addr(x, i), ...op.f32Load, ...op.f32(0), ...op.f32Gt, ...op.and,
      ...op.select,
      ...op.f32Store,
    ]),
  ];
  return { locals: [[...uleb(3), I32], [...uleb(1), F32], [...uleb(2), V128]], code };
}

/** scaleChannels(dy, a, out, rows, c) or, with `two`, scaleChannels2(dy, a, b, out, rows, c). */
function scaleChannelsBody(two: boolean): { locals: number[][]; code: number[] } {
  const P = two ? 6 : 5;
  const dy = 0, a = 1, b = two ? 2 : -1, out = two ? 3 : 2, rows = P - 2, c = P - 1;
  const [r, j, rowBytes, vecBytes, base] = [P, P + 1, P + 2, P + 3, P + 4];
  // address of element j of the current row: base + j (+ the tensor's offset)
  const rowAddr = (t: number): number[] => [...op.get(t), ...op.get(base), ...op.add, ...op.get(j), ...op.add];
  const vecBody = [
    ...rowAddr(out),
    ...rowAddr(dy), ...op.v128Load, ...addr(a, j), ...op.v128Load, ...op.f32x4Mul,
    ...(two ? [...addr(b, j), ...op.v128Load, ...op.f32x4Mul] : []),
    ...op.v128Store,
  ];
  const scalarBody = [
    ...rowAddr(out),
    ...rowAddr(dy), ...op.f32Load, ...addr(a, j), ...op.f32Load, ...op.f32Mul,
    ...(two ? [...addr(b, j), ...op.f32Load, ...op.f32Mul] : []),
    ...op.f32Store,
  ];
  const code = [
    ...op.get(c), ...op.i32(2), ...op.shl, ...op.set(rowBytes),
    ...op.get(c), ...op.i32(~3), ...op.and, ...op.i32(2), ...op.shl, ...op.set(vecBytes),
    ...op.i32(0), ...op.set(r),
    ...op.i32(0), ...op.set(base),
    ...whileBelow(r, rows, 1, [
      ...op.i32(0), ...op.set(j),
      ...whileBelow(j, vecBytes, 16, vecBody),
      ...whileBelow(j, rowBytes, 4, scalarBody),
      ...op.get(base), ...op.get(rowBytes), ...op.add, ...op.set(base),
    ]),
  ];
  return { locals: [[...uleb(5), I32]], code };
}

/** The module's bytes; `shared` must match the memory it will import. */
export function simdModuleBytes(shared: boolean): Uint8Array {
  const types = [
    [0x60, ...vec([[I32], [I32], [I32], [I32], [F32], [F32]]), ...vec([])], // clipGrad
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([])], // scaleChannels
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32]]), ...vec([])], // scaleChannels2
    [0x60, ...vec([[I32], [I32], [I32], [I32]]), ...vec([])], // reluGrad
  ];
  // memory import: no maximum (matches any non-shared memory), or shared with the wasm32 maximum.
  const limits = shared ? [0x03, ...uleb(0), ...uleb(65536)] : [0x00, ...uleb(0)];
  const imports = [[...str('env'), ...str('memory'), 0x02, ...limits]];
  const bodies = [clipGradBody(), scaleChannelsBody(false), scaleChannelsBody(true), reluGradBody(), guidedReluGradBody()].map(({ locals, code }) => {
    const body = [...vec(locals), ...code, ...op.end];
    return [...uleb(body.length), ...body];
  });
  const names = ['clipGrad', 'scaleChannels', 'scaleChannels2', 'reluGrad', 'guidedReluGrad'];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec([[0], [1], [2], [3], [3]])), // guidedReluGrad has reluGrad's signature
    ...section(7, vec(names.map((nm, k) => [...str(nm), 0x00, ...uleb(k)]))),
    ...section(10, vec(bodies)),
  ]);
}

const cache = new WeakMap<WebAssembly.Memory, WasmSimdKernels | null>();

function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/**
 * The SIMD kernels bound to `memory` (compiled once per memory), or null where
 * the engine cannot compile them (no WebAssembly SIMD) or `memory` is not a
 * `WebAssembly.Memory`.
 *
 * @param memory - the tfjs wasm backend's heap (see `wasmHeapOf` in wasm_heap.ts).
 */
export function wasmSimdKernels(memory: unknown): WasmSimdKernels | null {
  if (typeof WebAssembly === 'undefined' || !(memory instanceof WebAssembly.Memory)) return null;
  if (cache.has(memory)) return cache.get(memory) ?? null;
  let kernels: WasmSimdKernels | null = null;
  try {
    const bytes = simdModuleBytes(isShared(memory));
    if (WebAssembly.validate(bytes)) {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
      const e = instance.exports as unknown as Omit<WasmSimdKernels, 'memory'>;
      kernels = {
        memory, clipGrad: e.clipGrad, reluGrad: e.reluGrad, guidedReluGrad: e.guidedReluGrad, scaleChannels: e.scaleChannels, scaleChannels2: e.scaleChannels2,
      };
    }
  } catch {
    kernels = null;
  }
  cache.set(memory, kernels);
  return kernels;
}
