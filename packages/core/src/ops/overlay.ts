import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '../errors.js';
import { colorize, type ColormapName } from './colormap.js';
import { resizeMaps } from './resize_bilinear.js';
import { assertInRange, assertRank, assertSpatial, shapeString } from './validate.js';

/** Options of {@link overlay}. */
export interface OverlayOptions {
  /** Colour map for the saliency. Default `'jet'`. */
  colormap?: ColormapName;
  /** Opacity of the colour layer, in [0, 1]. Default 0.5. */
  alpha?: number;
}

/**
 * Draws saliency maps over images: `image·(1 − α) + colour·α`, with
 * `colour = colorize(map, colormap)` (a plain alpha blend, the same weight at
 * every pixel).
 *
 * - Images are RGB in [0, 1]; a 1-channel image is treated as grey (repeated
 *   to RGB) and a 4-channel RGBA image keeps its alpha channel untouched.
 * - Maps (values in [0, 1]) are resized bilinearly to the image size when it
 *   differs. `[h, w]` maps apply to every image; `[N, h, w]` maps pair with the
 *   images (N may be 1 to share one map).
 * - The output has the image's rank: `[N, H, W, 3|4]` or `[H, W, 3|4]`.
 *
 * @param image - `[N, H, W, C]` or `[H, W, C]`, C ∈ {1, 3, 4}, in [0, 1].
 * @param maps - `[N, h, w]` or `[h, w]` in [0, 1].
 * @param opts - see {@link OverlayOptions}.
 * @throws SaliencyError `BAD_RANK`, `BAD_CHANNELS`, `IMAGE_TOO_SMALL`,
 *   `BAD_OPTION` (α outside [0, 1], unknown colour map).
 *
 * @example
 * ```ts
 * const shown = overlay(image, await gradCam().explain(classifier, image, 'top'), { colormap: 'turbo', alpha: 0.4 });
 * ```
 */
export function overlay(image: tf.Tensor4D, maps: tf.Tensor3D | tf.Tensor2D, opts?: OverlayOptions): tf.Tensor4D;
export function overlay(image: tf.Tensor3D, maps: tf.Tensor3D | tf.Tensor2D, opts?: OverlayOptions): tf.Tensor3D;
export function overlay(
  image: tf.Tensor3D | tf.Tensor4D,
  maps: tf.Tensor3D | tf.Tensor2D,
  opts?: OverlayOptions,
): tf.Tensor3D | tf.Tensor4D;
export function overlay(
  image: tf.Tensor3D | tf.Tensor4D,
  maps: tf.Tensor3D | tf.Tensor2D,
  opts: OverlayOptions = {},
): tf.Tensor3D | tf.Tensor4D {
  assertRank(image, [3, 4], 'overlay: image', '[H, W, C] or [N, H, W, C]');
  assertRank(maps, [2, 3], 'overlay: maps', '[h, w] or [N, h, w]');
  const batched = image.rank === 4;
  const [n, h, w, c]: [number, number, number, number] = batched
    ? (image as tf.Tensor4D).shape
    : [1, ...(image as tf.Tensor3D).shape];
  assertSpatial(h, w, 'overlay: image', image.shape);
  if (c !== 1 && c !== 3 && c !== 4) {
    throw new SaliencyError(
      'BAD_CHANNELS',
      `overlay: image has ${c} channels (shape ${shapeString(image.shape)}); pass grey (1), RGB (3) or RGBA (4).`,
    );
  }
  const nm = maps.rank === 3 ? maps.shape[0] : 1;
  const [mh, mw]: [number, number] =
    maps.rank === 3 ? [(maps as tf.Tensor3D).shape[1], (maps as tf.Tensor3D).shape[2]] : (maps as tf.Tensor2D).shape;
  assertSpatial(mh, mw, 'overlay: maps', maps.shape);
  if (nm !== n && nm !== 1) {
    throw new SaliencyError(
      'BAD_RANK',
      `overlay: ${nm} maps for ${n} image(s) (maps ${shapeString(maps.shape)}, image ${shapeString(image.shape)}); ` +
        'pass one map per image, or a single map.',
    );
  }
  const alpha = opts.alpha ?? 0.5;
  assertInRange(alpha, 0, 1, 'overlay: alpha');
  const colormap = opts.colormap ?? 'jet';
  return tf.tidy(() => {
    let m = tf.reshape(maps, [nm, mh, mw]) as tf.Tensor3D;
    if (mh !== h || mw !== w) m = resizeMaps(m, [h, w]);
    const colour = colorize(m, colormap); // [nm, h, w, 3]
    const img = tf.reshape(tf.cast(image, 'float32'), [n, h, w, c]);
    const rgb = c === 1 ? tf.tile(img, [1, 1, 1, 3]) : c === 4 ? tf.slice(img, [0, 0, 0, 0], [n, h, w, 3]) : img;
    let out: tf.Tensor = tf.add(tf.mul(rgb, 1 - alpha), tf.mul(colour, alpha));
    if (c === 4) out = tf.concat([out, tf.slice(img, [0, 0, 0, 3], [n, h, w, 1])], 3);
    return batched ? (out as tf.Tensor4D) : (tf.reshape(out, [h, w, c === 4 ? 4 : 3]) as tf.Tensor3D);
  });
}
