import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from './errors.js';
import type { Classifier } from './types.js';

/**
 * Checks a batch of images against a classifier: rank 4, the classifier's
 * channel count, at least 1×1, and (with one asynchronous scalar read-back) finite values.
 * Throws `BAD_RANK`, `BAD_CHANNELS`, `IMAGE_TOO_SMALL` or `NON_FINITE_INPUT`.
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
    throw new SaliencyError('BAD_RANK', `Images must be ${size[0]}×${size[1]} (the classifier's input size); got ${h}×${w}. Use explain(), which resizes, or resize them first.`);
  }
  const finite = tf.tidy(() => tf.all(tf.isFinite(images)));
  // An async read: WebGPU's synchronous read-back is broken in headless Chromium (returns zeros).
  const ok = (await finite.data())[0] === 1;
  finite.dispose();
  if (!ok) throw new SaliencyError('NON_FINITE_INPUT', 'The images contain NaN or Infinity; check the decoding and preprocessing.');
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
