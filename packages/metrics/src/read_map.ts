import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '@saliency/core/base';

/** A saliency map read back to JS: row-major values and its size. */
export interface MapValues {
  /** `h · w` values, row-major. */
  values: Float32Array;
  /** Rows. */
  h: number;
  /** Columns. */
  w: number;
}

/**
 * Checks that `map` is a `[H, W]` tensor of at least 1×1 (throws `BAD_RANK` /
 * `IMAGE_TOO_SMALL`); returns its size.
 */
export function checkMap(map: tf.Tensor, fn: string): [number, number] {
  if (!(map instanceof tf.Tensor) || map.rank !== 2) {
    const got = map instanceof tf.Tensor ? `rank ${map.rank} [${map.shape.join(', ')}]` : typeof map;
    throw new SaliencyError('BAD_RANK', `${fn}: the map must be a 2-D tensor [H, W]; got ${got}. Take one map of a batch with tf.squeeze(tf.slice(maps, [i, 0, 0], [1, -1, -1]), [0]).`);
  }
  const [h, w] = map.shape as [number, number];
  if (h < 1 || w < 1) throw new SaliencyError('IMAGE_TOO_SMALL', `${fn}: the map is ${h}×${w}; it needs at least one pixel.`);
  return [h, w];
}

/**
 * Reads a `[H, W]` map back to JS (one asynchronous read, any backend) after
 * {@link checkMap}; throws `NON_FINITE_INPUT` if it holds NaN or Infinity.
 */
export async function readMap(map: tf.Tensor, fn: string): Promise<MapValues> {
  const [h, w] = checkMap(map, fn);
  const values = Float32Array.from(await map.data());
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new SaliencyError('NON_FINITE_INPUT', `${fn}: the map contains NaN or Infinity at pixel ${i}; check the saliency method's output.`);
    }
  }
  return { values, h, w };
}

/**
 * Checks that `image` is `[H, W, C]` with `channels` channels (when given), at
 * least 1×1 and finite (one scalar read). Throws `BAD_RANK`, `BAD_CHANNELS`,
 * `IMAGE_TOO_SMALL`, `NON_FINITE_INPUT`.
 */
export async function checkImage3d(image: tf.Tensor, channels: number | null, fn: string): Promise<[number, number, number]> {
  if (!(image instanceof tf.Tensor) || image.rank !== 3) {
    const got = image instanceof tf.Tensor ? `rank ${image.rank} [${image.shape.join(', ')}]` : typeof image;
    throw new SaliencyError('BAD_RANK', `${fn}: the image must be a 3-D tensor [H, W, C]; got ${got}. Take one image of a batch with tf.squeeze(tf.slice(images, [i, 0, 0, 0], [1, -1, -1, -1]), [0]).`);
  }
  const [h, w, c] = image.shape as [number, number, number];
  if (h < 1 || w < 1) throw new SaliencyError('IMAGE_TOO_SMALL', `${fn}: the image is ${h}×${w}; it needs at least one pixel.`);
  if (channels != null && c !== channels) {
    throw new SaliencyError('BAD_CHANNELS', `${fn}: expected ${channels} channel(s), the image has ${c}. Drop the alpha channel or convert the image.`);
  }
  const finite = tf.tidy(() => tf.all(tf.isFinite(image)));
  let ok: boolean;
  try {
    ok = (await finite.data())[0] === 1;
  } finally {
    finite.dispose();
  }
  if (!ok) throw new SaliencyError('NON_FINITE_INPUT', `${fn}: the image contains NaN or Infinity; check the decoding.`);
  return [h, w, c];
}

/** Throws `BAD_TARGET` unless `target` is a class index of a model with `numClasses` classes. */
export function checkTarget(target: number, numClasses: number, fn: string): number {
  if (!Number.isInteger(target) || target < 0 || target >= numClasses) {
    throw new SaliencyError('BAD_TARGET', `${fn}: target must be a class index in [0, ${numClasses - 1}]; got ${String(target)}.`);
  }
  return target;
}

/** Checks a threshold option: `'mean'` or a finite number. Throws `BAD_OPTION`. */
export function checkThreshold(threshold: number | 'mean', fn: string): number | 'mean' {
  if (threshold !== 'mean' && (typeof threshold !== 'number' || !Number.isFinite(threshold))) {
    throw new SaliencyError('BAD_OPTION', `${fn}: threshold must be 'mean' or a finite number; got ${JSON.stringify(threshold)}.`);
  }
  return threshold;
}

/** A checked threshold's value for a map: the number itself, or the mean of `values` for `'mean'`. */
export function resolveThreshold(threshold: number | 'mean', values: Float32Array): number {
  if (threshold !== 'mean') return threshold;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}
