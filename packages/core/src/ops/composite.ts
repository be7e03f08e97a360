import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '../errors.js';
import { assertRank, assertSpatial, shapeString } from './validate.js';

/**
 * What fills the masked-out part in {@link composite}: a number (grey level), a
 * per-channel colour (`number[]` of length C), or a tensor that broadcasts to the
 * image `[N, H, W, C]` — a scalar, `[C]`, `[H, W, C]` or `[N|1, H|1, W|1, C|1]`
 * (for example a blurred copy of the images).
 */
export type Background = tf.Tensor | number | readonly number[];

/** Mask as `[N|1, H, W, 1]`, validated against the image shape. */
function maskTo4d(mask: tf.Tensor, n: number, h: number, w: number): tf.Tensor4D {
  const s = mask.shape;
  const bad = (): never => {
    throw new SaliencyError(
      'BAD_RANK',
      `composite: mask has shape ${shapeString(s)}; expected [N, H, W], [N, H, W, 1] or [H, W] ` +
        `matching the images (N = ${n}, H = ${h}, W = ${w}; N may also be 1).`,
    );
  };
  let nm: number;
  if (mask.rank === 2) nm = 1;
  else if (mask.rank === 3 || (mask.rank === 4 && s[3] === 1)) nm = s[0];
  else return bad();
  const [mh, mw] = mask.rank === 2 ? s : [s[1], s[2]];
  if (mh !== h || mw !== w || (nm !== n && nm !== 1)) return bad();
  return tf.reshape(tf.cast(mask, 'float32'), [nm, h, w, 1]);
}

function backgroundTensor(a: Background, shape: readonly number[]): tf.Tensor {
  const c = shape[3];
  if (typeof a === 'number') {
    if (!Number.isFinite(a)) {
      throw new SaliencyError('NON_FINITE_INPUT', `composite: background ${a} is not finite; pass a finite number.`);
    }
    return tf.scalar(a, 'float32');
  }
  if (!(a instanceof tf.Tensor)) {
    const arr = Array.from(a);
    if (arr.length !== c && arr.length !== 1) {
      throw new SaliencyError(
        'BAD_CHANNELS',
        `composite: background colour has ${arr.length} values but the images have ${c} channels; ` +
          `pass ${c} values (one per channel) or 1.`,
      );
    }
    if (!arr.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new SaliencyError('NON_FINITE_INPUT', `composite: background colour ${shapeString(arr)} must be finite numbers.`);
    }
    return tf.tensor1d(arr, 'float32');
  }
  const bs = a.shape;
  const ok = a.rank <= 4 && bs.every((d, i) => d === 1 || d === shape[4 - a.rank + i]);
  if (!ok) {
    const code = a.rank >= 1 && a.rank <= 4 && bs[a.rank - 1] !== 1 && bs[a.rank - 1] !== c ? 'BAD_CHANNELS' : 'BAD_RANK';
    throw new SaliencyError(
      code,
      `composite: background of shape ${shapeString(bs)} does not broadcast to the images ${shapeString(shape)}; ` +
        'pass a scalar, [C], [H, W, C] or [N, H, W, C] (any of these dims may be 1).',
    );
  }
  return tf.cast(a, 'float32');
}

/**
 * Composites images with a background through a mask: `x·m + a·(1 − m)`.
 * The mask is broadcast over channels (and over the batch when it has none);
 * `m = 1` keeps the image, `m = 0` shows the background. This is
 * `Φ(x, M) = x⊙M + A⊙(1 − M)` of Dabkowski & Gal, and the masked input of
 * RISE / Group-CAM / Score-CAM (with `a = 0` or a blurred `x`).
 *
 * @param x - images `[N, H, W, C]`.
 * @param m - mask `[N, H, W]`, `[N, H, W, 1]` or `[H, W]` (N may be 1), usually in [0, 1].
 * @param a - background, see {@link Background}.
 * @returns float32 `[N, H, W, C]`.
 * @throws SaliencyError `BAD_RANK` (shapes that do not fit), `BAD_CHANNELS`
 *   (colour length ≠ C), `NON_FINITE_INPUT` (NaN/Infinity in a JS background),
 *   `IMAGE_TOO_SMALL` (empty image).
 *
 * @example
 * ```ts
 * const masked = composite(images, masks, 0);                  // RISE: x ⊙ M
 * const perturbed = composite(images, masks, gaussianBlur(images, { kernelSize: 51, sigma: 50 }));
 * const grey = composite(images, masks, [0.5, 0.5, 0.5]);
 * ```
 */
export function composite(x: tf.Tensor4D, m: tf.Tensor, a: Background): tf.Tensor4D {
  assertRank(x, [4], 'composite: x', '[N, H, W, C]');
  const [n, h, w] = x.shape;
  assertSpatial(h, w, 'composite: x', x.shape);
  return tf.tidy(() => {
    const mask = maskTo4d(m, n, h, w);
    const bg = backgroundTensor(a, x.shape);
    const xf = tf.cast(x, 'float32');
    return tf.add(tf.mul(xf, mask), tf.mul(bg, tf.sub(1, mask))) as tf.Tensor4D;
  });
}
