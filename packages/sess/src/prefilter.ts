/**
 * SESS step 3 (design.md §4): score every patch by the target probability in
 * batched forward passes, then drop the lowest-scoring ones.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { concatBatches, SaliencyError, throwIfAborted, type Classifier, type LongRunningOptions, yieldToEventLoop } from '@saliency/core/base';
import type { SessPatch } from './geometry.js';
import { cutPatches, ScaledImages } from './patches.js';

/**
 * How many of `count` patches the pre-filter drops: `floor(count · ratio)`,
 * the reference's `int(N · r)`. So `count − floor(count · ratio)` =
 * `ceil(count · (1 − ratio))` patches are kept (up to float rounding of
 * `count · ratio`, which is computed as written here), at least one for
 * `ratio < 1`.
 *
 * @param count - number of patches.
 * @param ratio - pre-filter ratio in [0, 1).
 * @returns the number dropped.
 *
 * @example
 * ```ts
 * prefilterDropCount(122, 0.9); // 109 (13 kept)
 * prefilterDropCount(5, 0.5);   // 2 (3 kept)
 * ```
 */
export function prefilterDropCount(count: number, ratio: number): number {
  if (!(ratio >= 0 && ratio < 1)) {
    throw new SaliencyError('BAD_OPTION', `preFilterRatio must be in [0, 1) (the fraction of patches dropped); got ${String(ratio)}.`);
  }
  return Math.floor(count * ratio);
}

/**
 * The patches the pre-filter keeps: all but the `floor(N · ratio)` lowest
 * scores. Ties are broken by patch order (among equal scores the earlier
 * patch is dropped first, as a stable ascending sort would). Returns the kept
 * indices in ascending patch order (scale by scale), which keeps the scaled
 * copies of the image short-lived during extraction.
 *
 * @param scores - one score per patch (the target probability).
 * @param ratio - pre-filter ratio in [0, 1); 0 keeps everything.
 * @returns kept patch indices, ascending.
 * @throws SaliencyError `BAD_OPTION` for a ratio outside [0, 1).
 *
 * @example
 * ```ts
 * prefilterKeep([0.9, 0.1, 0.5, 0.3], 0.5); // [0, 2]
 * ```
 */
export function prefilterKeep(scores: ArrayLike<number>, ratio: number): number[] {
  const n = scores.length;
  const drop = prefilterDropCount(n, ratio);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
  return order.slice(drop).sort((a, b) => a - b);
}

/**
 * Probability of `target` for every patch of one image: batches of at most
 * `batchSize` patches, one forward pass each, results kept on the device and
 * read back once at the end. Progress is reported per batch (`phase`
 * `'prefilter'`); between batches the event loop gets a turn and the signal
 * is checked.
 *
 * @param classifier - the wrapped model.
 * @param image - one image `[1, H, W, C]` (any size).
 * @param patches - from {@link sessPatches} for this image.
 * @param target - the class whose probability scores a patch.
 * @param batchSize - patches per forward pass.
 * @param opts - progress and abort.
 * @returns one probability per patch.
 *
 * @example
 * ```ts
 * const p = await scorePatches(classifier, image, sessPatches([375, 500], geometry), 3, 16);
 * ```
 */
export async function scorePatches(
  classifier: Classifier,
  image: tf.Tensor4D,
  patches: readonly SessPatch[],
  target: number,
  batchSize: number,
  opts: LongRunningOptions = {},
): Promise<Float32Array> {
  const scaled = new ScaledImages(image);
  try {
    const scores = await concatBatches(patches.length, batchSize, async (start, size) => {
      if (start > 0) {
        await yieldToEventLoop();
        throwIfAborted(opts.signal);
      }
      const batch = cutPatches(scaled, patches.slice(start, start + size), classifier.inputSize);
      try {
        return tf.tidy(() => {
          const p = classifier.probabilities(batch);
          return tf.sum(tf.mul(p, tf.oneHot(tf.fill([size], target, 'int32') as tf.Tensor1D, classifier.numClasses)), 1) as tf.Tensor1D;
        });
      } finally {
        batch.dispose();
      }
    }, { ...opts, phase: 'prefilter' });
    try {
      return (await scores.data()) as Float32Array;
    } finally {
      scores.dispose();
    }
  } finally {
    scaled.dispose();
  }
}
