import * as tf from '@tensorflow/tfjs-core';
import { assertPositive, assertRank, assertSpatial } from './validate.js';

/** Options of {@link totalVariation}. */
export interface TotalVariationOptions {
  /** Exponent β of the absolute differences, > 0. Default 1 (anisotropic TV); Dabkowski & Gal use 2. */
  beta?: number;
  /** Return one value per sample (`[N]`) instead of their mean (a scalar). Default `false`. */
  perSample?: boolean;
}

/**
 * Total variation of masks or images, `[N, H, W]` or `[N, H, W, C]`:
 *
 * `TV_n = mean_{i<H, j<W−1, c} |m[n,i,j+1,c] − m[n,i,j,c]|^β
 *       + mean_{i<H−1, j<W, c} |m[n,i+1,j,c] − m[n,i,j,c]|^β`
 *
 * i.e. each direction's differences are averaged over their own count
 * (`H·(W−1)·C` horizontal, `(H−1)·W·C` vertical) and the two means are added;
 * a direction with no neighbours (W = 1 or H = 1) contributes 0. The result is
 * the mean of `TV_n` over the batch (a scalar), or `[N]` with `perSample`.
 * With β = 2 this is the smoothness term of Dabkowski & Gal (squared
 * differences, averaged). Differentiable (`abs`/`square`/`pow`).
 *
 * @param m - `[N, H, W]` or `[N, H, W, C]`.
 * @param opts - see {@link TotalVariationOptions}.
 * @throws SaliencyError `BAD_RANK`, `IMAGE_TOO_SMALL`, `BAD_OPTION` (β <= 0).
 *
 * @example
 * ```ts
 * const tv = totalVariation(masks, { beta: 2 });             // Scalar
 * const each = totalVariation(masks, { perSample: true });    // Tensor1D [N]
 * ```
 */
export function totalVariation(m: tf.Tensor3D | tf.Tensor4D, opts?: TotalVariationOptions & { perSample?: false }): tf.Scalar;
export function totalVariation(m: tf.Tensor3D | tf.Tensor4D, opts: TotalVariationOptions & { perSample: true }): tf.Tensor1D;
export function totalVariation(m: tf.Tensor3D | tf.Tensor4D, opts?: TotalVariationOptions): tf.Scalar | tf.Tensor1D;
export function totalVariation(m: tf.Tensor3D | tf.Tensor4D, opts: TotalVariationOptions = {}): tf.Scalar | tf.Tensor1D {
  assertRank(m, [3, 4], 'totalVariation: m', '[N, H, W] or [N, H, W, C]');
  const [n, h, w] = m.shape;
  assertSpatial(h, w, 'totalVariation: m', m.shape);
  const beta = opts.beta ?? 1;
  assertPositive(beta, 'totalVariation: beta');
  const c = m.rank === 4 ? (m as tf.Tensor4D).shape[3] : 1;
  return tf.tidy(() => {
    const x = tf.reshape(tf.cast(m, 'float32'), [n, h, w, c]);
    const powAbs = (d: tf.Tensor): tf.Tensor =>
      beta === 1 ? tf.abs(d) : beta === 2 ? tf.square(d) : tf.pow(tf.abs(d), beta);
    let tv: tf.Tensor = tf.zeros([n]);
    if (w > 1) {
      const dx = tf.sub(tf.slice(x, [0, 0, 1, 0], [n, h, w - 1, c]), tf.slice(x, [0, 0, 0, 0], [n, h, w - 1, c]));
      tv = tf.add(tv, tf.mean(powAbs(dx), [1, 2, 3]));
    }
    if (h > 1) {
      const dy = tf.sub(tf.slice(x, [0, 1, 0, 0], [n, h - 1, w, c]), tf.slice(x, [0, 0, 0, 0], [n, h - 1, w, c]));
      tv = tf.add(tv, tf.mean(powAbs(dy), [1, 2, 3]));
    }
    return opts.perSample === true ? (tv as tf.Tensor1D) : (tf.mean(tv) as tf.Scalar);
  });
}
