/**
 * mulberry32: a small, fast 32-bit PRNG giving uniform numbers in [0, 1) — the one seeded stream
 * behind every stochastic part of the library (RISE masks, masking-model training draws, the
 * generated data sets). Same seed → same sequence on every platform.
 *
 * @param seed - any number; its low 32 bits (unsigned) seed the stream.
 * @returns a function returning the next number in [0, 1).
 * @example
 * ```ts
 * const next = mulberry32(42);
 * const coin = next() < 0.5;
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
