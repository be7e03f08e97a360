import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from './errors.js';
import { yieldToEventLoop } from './event_loop.js';
import type { Classifier, Targets } from './types.js';

/**
 * Turns {@link Targets} into one class index per image. `'top'` runs forward
 * passes of at most `batchSize` images (yielding to the event loop between them) and reads back the argmaxes once.
 * Throws `BAD_TARGET` for out-of-range or mismatched targets.
 */
export async function resolveTargets(classifier: Classifier, images: tf.Tensor4D, targets: Targets, batchSize = 16): Promise<number[]> {
  const n = images.shape[0];
  if (targets === 'top') {
    // Forward passes in batches (peak memory bounded by batchSize), yielding to the event loop
    // between them; one read-back at the end.
    const parts: tf.Tensor1D[] = [];
    try {
      for (let start = 0; start < n; start += batchSize) {
        const size = Math.min(batchSize, n - start);
        // logits() tidies the model's activations itself; only [size] argmaxes stay until the end.
        parts.push(tf.tidy(() => tf.argMax(classifier.logits(tf.slice(images, [start, 0, 0, 0], [size, -1, -1, -1])), 1)));
        if (start + size < n) await yieldToEventLoop();
      }
      const top = parts.length === 1 ? (parts[0] as tf.Tensor1D) : tf.concat(parts);
      const out = Array.from(await top.data());
      if (parts.length > 1) top.dispose();
      return out;
    } finally {
      tf.dispose(parts);
    }
  }
  const list = typeof targets === 'number' ? new Array<number>(n).fill(targets) : [...targets];
  if (list.length !== n) {
    throw new SaliencyError('BAD_TARGET', `Got ${list.length} targets for ${n} images: give one class per image, a single class, or 'top'.`);
  }
  for (const t of list) {
    if (!Number.isInteger(t) || t < 0 || t >= classifier.numClasses) {
      throw new SaliencyError('BAD_TARGET', `Class index ${t} is out of range: the classifier has classes 0…${classifier.numClasses - 1}.`);
    }
  }
  return list;
}

/**
 * Sum over the batch of each image's target score: `Σ_i scores[i, targets[i]]`,
 * selected with a one-hot mask (no gather, so every backend can differentiate it).
 */
export function selectTargets(scores: tf.Tensor2D, targets: readonly number[]): tf.Scalar {
  return tf.tidy(() => {
    const mask = tf.oneHot(tf.tensor1d(targets as number[], 'int32'), scores.shape[1]);
    return tf.sum(tf.mul(scores, mask));
  });
}
