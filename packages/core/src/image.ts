import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from './errors.js';
import type { ImageLike } from './types.js';

/**
 * Converts a plain image to a `[1, H, W, C]` float tensor in `range`.
 * Integer data (Uint8Array, Uint8ClampedArray, number[] of 0–255) is mapped from
 * 0–255 to `range`; Float32Array data is taken as already in `range`.
 * RGBA drops its alpha; `channels` (1 or 3) is what the result must have.
 *
 * @example
 * ```ts
 * const x = imageToTensor({ data: rgba, width: 640, height: 480 }, [0, 255], 3);
 * ```
 */
export function imageToTensor(image: ImageLike, range: readonly [number, number], channels: number): tf.Tensor4D {
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height))) {
    throw new SaliencyError('BAD_SIZE', `Image sides must be whole numbers of pixels; got ${width}×${height}.`, 'IMAGE_TOO_SMALL');
  }
  if (width < 1 || height < 1) {
    throw new SaliencyError('IMAGE_TOO_SMALL', `Images must be at least 1×1; got ${width}×${height}.`);
  }
  const pixels = width * height;
  const c = image.channels ?? data.length / pixels;
  if (!Number.isInteger(c) || c * pixels !== data.length || c < 1 || c > 4) {
    throw new SaliencyError('BAD_CHANNELS', `Image data has ${data.length} values for ${width}×${height} pixels: expected 1, 3 or 4 values per pixel.`);
  }
  const integer = !(data instanceof Float32Array);
  return tf.tidy(() => {
    let x: tf.Tensor = tf.tensor4d(Float32Array.from(data), [1, height, width, c]);
    if (c === 4 || c === 2) x = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, c - 1]);
    const have = c === 4 ? 3 : c === 2 ? 1 : c;
    if (have !== channels) {
      if (have === 1 && channels === 3) x = tf.tile(x, [1, 1, 1, 3]);
      else if (have === 3 && channels === 1) x = tf.sum(tf.mul(x, tf.tensor1d([0.299, 0.587, 0.114])), -1, true);
      else throw new SaliencyError('BAD_CHANNELS', `Cannot convert a ${have}-channel image to ${channels} channels.`);
    }
    if (integer) x = tf.add(tf.mul(x, (range[1] - range[0]) / 255), range[0]);
    return x as tf.Tensor4D;
  });
}
