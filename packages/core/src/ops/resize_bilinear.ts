import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '../errors.js';
import { assertInteger, assertRank, assertSpatial } from './validate.js';

/** Options of {@link resizeBilinear} and {@link resizeMaps}. */
export interface ResizeOptions {
  /** Align the corner pixels of input and output (TF1 behaviour). Default `false`. */
  alignCorners?: boolean;
  /**
   * Sample at pixel centres: source coordinate `(i + 0.5) · in/out − 0.5`.
   * Default `true` (or `false` when `alignCorners` is set), which matches
   * `cv2.resize`, PyTorch's `interpolate(align_corners=False)` and TF2's
   * `tf.image.resize`. Cannot be combined with `alignCorners`.
   */
  halfPixelCenters?: boolean;
}

function checkSize(size: readonly [number, number], fn: string): void {
  if (!Array.isArray(size) || size.length !== 2) {
    throw new SaliencyError('BAD_OPTION', `${fn}: size must be [height, width], got ${String(size)}.`);
  }
  assertInteger(size[0], 1, `${fn}: target height`);
  assertInteger(size[1], 1, `${fn}: target width`);
}

function checkOptions(opts: ResizeOptions, fn: string): { alignCorners: boolean; halfPixelCenters: boolean } {
  const alignCorners = opts.alignCorners ?? false;
  const halfPixelCenters = opts.halfPixelCenters ?? !alignCorners;
  if (alignCorners && halfPixelCenters) {
    throw new SaliencyError(
      'BAD_OPTION',
      `${fn}: alignCorners and halfPixelCenters cannot both be true; pick one (the default is halfPixelCenters).`,
    );
  }
  return { alignCorners, halfPixelCenters };
}

/**
 * Bilinear resize of an image `[H, W, C]` or a batch `[N, H, W, C]` to `[h, w]`,
 * a thin wrapper over `tf.image.resizeBilinear` with half-pixel centres by default.
 * The output is float32 and has the input's rank.
 *
 * @param x - image `[H, W, C]` or batch `[N, H, W, C]`.
 * @param size - target `[height, width]`, positive integers.
 * @param opts - see {@link ResizeOptions}.
 * @throws SaliencyError `BAD_RANK` (rank not 3 or 4), `IMAGE_TOO_SMALL`
 *   (empty input), `BAD_OPTION` (bad size, or both corner options set).
 *
 * @example
 * ```ts
 * const big = resizeBilinear(tf.zeros([2, 7, 7, 3]) as tf.Tensor4D, [224, 224]); // [2, 224, 224, 3]
 * ```
 */
export function resizeBilinear<T extends tf.Tensor3D | tf.Tensor4D>(
  x: T,
  size: readonly [number, number],
  opts: ResizeOptions = {},
): T {
  assertRank(x, [3, 4], 'resizeBilinear: x', '[H, W, C] or [N, H, W, C]');
  const off = x.rank - 3;
  assertSpatial(x.shape[off], x.shape[off + 1], 'resizeBilinear: x', x.shape);
  checkSize(size, 'resizeBilinear');
  const { alignCorners, halfPixelCenters } = checkOptions(opts, 'resizeBilinear');
  return tf.tidy(() => {
    const xf = tf.cast(x, 'float32') as T;
    if (x.shape[off] === size[0] && x.shape[off + 1] === size[1]) return xf;
    return tf.image.resizeBilinear(xf, [size[0], size[1]], alignCorners, halfPixelCenters);
  });
}

/**
 * Bilinear resize of a batch of single-channel maps `[N, H, W]` to `[N, h, w]`.
 * Same conventions as {@link resizeBilinear}.
 *
 * @param maps - `[N, H, W]` maps.
 * @param size - target `[height, width]`.
 * @param opts - see {@link ResizeOptions}.
 * @throws SaliencyError `BAD_RANK`, `IMAGE_TOO_SMALL`, `BAD_OPTION` as {@link resizeBilinear}.
 *
 * @example
 * ```ts
 * const cam = tf.ones([1, 7, 7]) as tf.Tensor3D;
 * const full = resizeMaps(cam, [224, 224]); // [1, 224, 224]
 * ```
 */
export function resizeMaps(maps: tf.Tensor3D, size: readonly [number, number], opts: ResizeOptions = {}): tf.Tensor3D {
  assertRank(maps, [3], 'resizeMaps: maps', '[N, H, W]');
  assertSpatial(maps.shape[1], maps.shape[2], 'resizeMaps: maps', maps.shape);
  checkSize(size, 'resizeMaps');
  checkOptions(opts, 'resizeMaps');
  return tf.tidy(() => {
    const x4 = tf.expandDims(maps, 3) as tf.Tensor4D;
    return tf.squeeze(resizeBilinear(x4, size, opts), [3]) as tf.Tensor3D;
  });
}
