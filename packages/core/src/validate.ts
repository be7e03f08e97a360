import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from './errors.js';
import type { Classifier } from './types.js';

/**
 * How far outside a classifier's declared `inputRange` [lo, hi] image values may lie before
 * {@link checkImages} rejects them with `INPUT_OUT_OF_RANGE`: accepted are values in
 * `[lo − 1000·(hi − lo), hi + 1000·(hi − lo)]`. Generous on purpose (0–255 pixels given to a
 * [0, 1] model still run); values beyond it (such as 3e38) overflow float32 in a model and would
 * give NaN maps.
 */
export const INPUT_RANGE_TOLERANCE = 1000;

/**
 * Checks a batch of images against a classifier: rank 4, the classifier's
 * channel count, at least 1×1, and (with one asynchronous read-back of three numbers) finite
 * values within {@link INPUT_RANGE_TOLERANCE} spans of the classifier's input range.
 * Throws `BAD_RANK`, `BAD_CHANNELS`, `IMAGE_TOO_SMALL`, `BAD_SIZE`, `NON_FINITE_INPUT` or
 * `INPUT_OUT_OF_RANGE`. int32 images are accepted (preprocessing casts them).
 *
 * @param size - when given, the `[H, W]` the images must have.
 */
export async function checkImages(images: tf.Tensor, classifier: Classifier, size?: readonly [number, number]): Promise<void> {
  if (images.rank !== 4) {
    throw new SaliencyError('BAD_RANK', `Images must be a 4-D tensor [N, H, W, C]; got rank ${images.rank} [${images.shape.join(', ')}]. Use tf.expandDims(image, 0) for one image.`);
  }
  const [n, h, w, c] = images.shape;
  if (n < 1 || h < 1 || w < 1) {
    throw new SaliencyError('IMAGE_TOO_SMALL', `Images must hold at least one 1×1 image; got [${images.shape.join(', ')}].`);
  }
  if (c !== classifier.channels) {
    throw new SaliencyError('BAD_CHANNELS', `The classifier takes ${classifier.channels} channel(s); the images have ${c}. Drop the alpha channel or convert to ${classifier.channels === 1 ? 'grayscale' : 'RGB'}.`);
  }
  if (size != null && (h !== size[0] || w !== size[1])) {
    throw new SaliencyError('BAD_SIZE', `Images must be ${size[0]}×${size[1]} (the classifier's input size); got ${h}×${w}. Use explain(), which resizes, or resize them first.`, 'BAD_RANK');
  }
  const [lo, hi] = classifier.inputRange;
  const span = hi - lo;
  const stats = tf.tidy(() => {
    const x = images.dtype === 'float32' ? images : tf.cast(images, 'float32');
    return tf.stack([tf.cast(tf.all(tf.isFinite(x)), 'float32'), tf.min(x), tf.max(x)]);
  });
  // An async read: WebGPU's synchronous read-back is broken in headless Chromium (returns zeros).
  const [finite, min, max] = await stats.data();
  stats.dispose();
  if (finite !== 1) throw new SaliencyError('NON_FINITE_INPUT', 'The images contain NaN or Infinity; check the decoding and preprocessing.');
  const limitLo = lo - INPUT_RANGE_TOLERANCE * span;
  const limitHi = hi + INPUT_RANGE_TOLERANCE * span;
  if ((min as number) < limitLo || (max as number) > limitHi) {
    throw new SaliencyError('INPUT_OUT_OF_RANGE', `The images hold values from ${min} to ${max}, far outside the classifier's input range [${lo}, ${hi}] (accepted: [${limitLo}, ${limitHi}]); models overflow to NaN there. Check the decoding, or the preprocess.inputRange you gave the classifier.`);
  }
}

/** Checks a positive-integer option. Throws `BAD_OPTION`. */
export function checkPositiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new SaliencyError('BAD_OPTION', `${name} must be a positive integer, got ${value}.`);
  return value;
}

/** Throws `ABORTED` when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new SaliencyError('ABORTED', 'The operation was aborted by its AbortSignal.');
}
