/*
 * Seeded randomness of the masking model and meaningful perturbation: a
 * counter-based 32-bit hash turns (seed, step, sample, …) into an independent
 * stream, so a draw depends only on where it is used — never on the batch it
 * falls in or on how many draws came before (a resumed run repeats the draws
 * of the run it resumes). Internal to @saliency/methods.
 */
import { mulberry32, SaliencyError } from '@saliency/core/base';

/** 32-bit hash of a seed and a list of integers (murmur3-style finaliser per part). */
export function hashSeed(seed: number, ...parts: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const p of parts) {
    h = Math.imul(h ^ ((p + 0x632be59b) >>> 0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  h ^= h >>> 12;
  return h >>> 0;
}

/** mulberry32: uniform numbers in [0, 1) from a 32-bit seed (core's stream). */
export const uniformStream: (seed: number) => () => number = mulberry32;

/** Validates an integer seed option and maps it to an unsigned 32-bit value. */
export function checkSeed(seed: number, fn: string): number {
  if (!Number.isInteger(seed)) throw new SaliencyError('BAD_OPTION', `${fn}: seed must be an integer, got ${String(seed)}.`);
  return seed >>> 0;
}

/** A fresh random seed (for calls that were given none). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 4294967296) >>> 0;
}
