import * as tf from '@tensorflow/tfjs-core';
import { standardNormals } from '@saliency/core/base';

/** SmoothGrad's sample count when it is switched on without one (design.md §3; Smilkov et al. 2017 use 25–50). */
export const SMOOTH_GRAD_SAMPLES = 25;

/** SmoothGrad's default noise level: std = 0.15 · (max − min) of the input image (Smilkov et al. 2017). */
export const SMOOTH_GRAD_NOISE = 0.15;

/** A 32-bit integer hash (murmur3's finaliser): decorrelates consecutive seeds. */
function mix32(v: number): number {
  let h = v >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The seed of noise sample `unit` under the user's `seed`: a hash of both,
 * so every sample has its own stream and the noise of a sample does not
 * depend on how the samples are batched.
 *
 * @example
 * ```ts
 * unitSeed(0, 3) !== unitSeed(1, 3); // true
 * ```
 */
export function unitSeed(seed: number, unit: number): number {
  return mix32(mix32(seed) ^ mix32(unit + 0x9e3779b9));
}

/**
 * Per-image noise scale `[N, 1, 1, 1]` = `level · (max − min)` of each image
 * over all its pixels and channels, computed on the backend.
 *
 * @param images - `[N, H, W, C]`.
 * @param level - the noise level (0.15 by default in SmoothGrad).
 * @returns caller-owned `[N, 1, 1, 1]`.
 *
 * @example
 * ```ts
 * const std = noiseScale(images, 0.15);
 * ```
 */
export function noiseScale(images: tf.Tensor4D, level: number): tf.Tensor4D {
  return tf.tidy(() => tf.mul(tf.sub(tf.max(images, [1, 2, 3], true), tf.min(images, [1, 2, 3], true)), level));
}

/**
 * Adds SmoothGrad noise to a batch of views: item `i` gets standard normal
 * noise drawn with seed `unitSeed(seed, units[i])` (`standardNormals`, a seeded
 * ziggurat on the host: twice as fast as tfjs's seeded `randomNormal`, whose
 * numbers it replaces), times `std[i]`.
 *
 * @param x - `[B, H, W, C]` views.
 * @param std - `[B, 1, 1, 1]` noise standard deviation per item.
 * @param seed - the user's seed.
 * @param units - global sample index of each item (fixes its noise).
 * @returns caller-owned `[B, H, W, C]`.
 *
 * @example
 * ```ts
 * const noisy = addSmoothGradNoise(x, std, 42, [0, 1, 2, 3]);
 * ```
 */
export function addSmoothGradNoise(x: tf.Tensor4D, std: tf.Tensor4D, seed: number, units: readonly number[]): tf.Tensor4D {
  const [, h, w, c] = x.shape;
  return tf.tidy(() => {
    const per = h * w * c;
    const values = new Float32Array(units.length * per);
    units.forEach((u, i) => values.set(standardNormals(per, unitSeed(seed, u)), i * per));
    return tf.add(x, tf.mul(tf.tensor4d(values, [units.length, h, w, c]), std));
  });
}
