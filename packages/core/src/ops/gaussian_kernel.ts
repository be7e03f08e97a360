import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '../errors.js';
import { assertPositive } from './validate.js';

/**
 * The weights of a normalised 1-D Gaussian, computed in float64 on the JS side:
 * `g[i] = exp(−(i − c)² / (2σ²)) / Σ_j exp(−(j − c)² / (2σ²))`, `c = (size − 1) / 2`.
 * Internal helper of {@link gaussianKernel1d} and `gaussianBlur`.
 */
export function gaussianWeights(size: number, sigma: number, fn = 'gaussianKernel1d'): Float32Array {
  if (!(typeof size === 'number' && Number.isInteger(size) && size >= 1 && size % 2 === 1)) {
    throw new SaliencyError(
      'BAD_OPTION',
      `${fn}: kernel size must be an odd integer >= 1 (e.g. 11, 51), got ${String(size)}.`,
    );
  }
  assertPositive(sigma, `${fn}: sigma`);
  const c = (size - 1) / 2;
  const w = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const d = i - c;
    w[i] = Math.exp(-(d * d) / (2 * sigma * sigma));
    sum += w[i];
  }
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = w[i] / sum;
  return out;
}

/**
 * A 1-D Gaussian kernel of odd length `size`, centred, normalised to sum 1:
 * `g[i] ∝ exp(−(i − (size − 1)/2)² / (2σ²))` (the same as OpenCV's
 * `getGaussianKernel(size, sigma)`).
 *
 * @param size - odd integer >= 1.
 * @param sigma - standard deviation in pixels, > 0.
 * @returns float32 `[size]`.
 * @throws SaliencyError `BAD_OPTION` for an even/non-integer size or sigma <= 0.
 *
 * @example
 * ```ts
 * gaussianKernel1d(3, 1).print(); // [0.2741, 0.4519, 0.2741]
 * ```
 */
export function gaussianKernel1d(size: number, sigma: number): tf.Tensor1D {
  const w = gaussianWeights(size, sigma);
  return tf.tidy(() => tf.tensor1d(w, 'float32'));
}
