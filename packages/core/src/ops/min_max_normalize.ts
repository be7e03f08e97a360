import * as tf from '@tensorflow/tfjs-core';
import { assertPositive, assertRank, assertSpatial } from './validate.js';

/** Options of {@link minMaxNormalize}. */
export interface MinMaxNormalizeOptions {
  /**
   * Relative tolerance: a map whose range `max − min` is not larger than
   * `eps · max(|min|, |max|)` counts as constant and becomes all zeros.
   * Default `1e-6` (about 8 float32 ulps), so rounding noise on a constant map
   * (for example after a blur or a resize) is not blown up to [0, 1].
   * `0` treats only exactly-constant maps as constant.
   */
  eps?: number;
}

/**
 * Min-max normalises each map of a batch to [0, 1] independently:
 * `(x − min) / (max − min)` with `min`/`max` taken over that map's pixels.
 *
 * A constant map (see {@link MinMaxNormalizeOptions.eps}) becomes all zeros,
 * never NaN: the guard is a `tf.where` on the range, evaluated on the device,
 * and the division uses a safe denominator, so the op is differentiable and
 * its gradient stays finite (zero for a constant map).
 * NaN in the input propagates (it is not checked, to avoid reading data back).
 *
 * @param maps - `[N, H, W]` maps, any real dtype.
 * @param opts - see {@link MinMaxNormalizeOptions}.
 * @returns float32 `[N, H, W]` in [0, 1].
 * @throws SaliencyError `BAD_RANK` if `maps` is not rank 3, `IMAGE_TOO_SMALL`
 *   if H or W is 0, `BAD_OPTION` for a negative or non-finite `eps`.
 *
 * @example
 * ```ts
 * const m = tf.tensor3d([[[1, 3], [5, 9]]]);
 * minMaxNormalize(m).print(); // [[[0, 0.25], [0.5, 1]]]
 * ```
 */
export function minMaxNormalize(maps: tf.Tensor3D, opts: MinMaxNormalizeOptions = {}): tf.Tensor3D {
  assertRank(maps, [3], 'minMaxNormalize: maps', '[N, H, W]');
  assertSpatial(maps.shape[1], maps.shape[2], 'minMaxNormalize: maps', maps.shape);
  const eps = opts.eps ?? 1e-6;
  assertPositive(eps, 'minMaxNormalize: eps', true);
  return tf.tidy(() => {
    const x = tf.cast(maps, 'float32');
    const lo = tf.min(x, [1, 2], true);
    const hi = tf.max(x, [1, 2], true);
    const range = tf.sub(hi, lo);
    const scale = tf.maximum(tf.abs(lo), tf.abs(hi));
    // `flat` = NOT(range > eps·scale), written with greaterEqual because tfjs
    // registers a (zero) gradient for GreaterEqual but none for Greater: this
    // keeps the op differentiable.
    const flat = tf.greaterEqual(tf.mul(scale, eps), range);
    const safeRange = tf.where(flat, tf.onesLike(range), range);
    const normalised = tf.div(tf.sub(x, lo), safeRange);
    // Flat maps → 0 by a broadcast multiply: where(broadcastTo(flat)) tiled a bool tensor to the
    // full shape on wasm (225 ms vs 9 ms on [32, 224, 224], same values and same gradient).
    return tf.mul(normalised, tf.sub(1, tf.cast(flat, 'float32'))) as tf.Tensor3D;
  });
}
