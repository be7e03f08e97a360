/*
 * Seeded pseudo-random numbers for the generated data sets.
 */
import { mulberry32 } from '@saliency/core/base';

/**
 * A deterministic stream of numbers in [0, 1) (mulberry32).
 *
 * @example
 * ```ts
 * const next = seededRandom(7);
 * const u = next(); // the same value for seed 7 on every machine
 * ```
 */
export type RandomStream = () => number;

/**
 * mulberry32: a small, fast, well-mixed 32-bit generator; same seed → same stream.
 *
 * @param seed - any number; only its low 32 bits are used.
 * @returns a function returning the next number in [0, 1).
 *
 * @example
 * ```ts
 * const next = seededRandom(42);
 * const coin = next() < 0.5;
 * ```
 */
export function seededRandom(seed: number): RandomStream {
  return mulberry32(seed);
}

/**
 * Mixes several integers into one 32-bit seed (a murmur3-style finaliser per
 * part), so that (seed, sample index, stream) triples give unrelated streams.
 *
 * @param parts - integers to mix.
 * @returns a 32-bit unsigned seed.
 *
 * @example
 * ```ts
 * const layout = seededRandom(mixSeeds(seed, index, 1));
 * ```
 */
export function mixSeeds(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    let k = Math.imul((p | 0) ^ (Math.floor(p / 4294967296) | 0), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
