import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, checkPositiveInt, resolveTargets, sliceBatch, throwIfAborted, yieldToEventLoop,
  type Classifier, type LongRunningOptions, type SaliencyMethod, type Targets,
} from '@saliency/core/base';
import { attributionMaps, checkAggregate, type AttributionAggregate } from './attribution_maps.js';
import { logitGradient } from './logit_gradient.js';

/** Options of {@link inputXGradient}. */
export interface InputXGradientOptions extends LongRunningOptions {
  /** Channel aggregation of x ⊙ ∂S/∂x (default `'absSum'`). */
  aggregate?: AttributionAggregate;
  /** Images per backward pass (default 4). */
  batchSize?: number;
}

/**
 * Per-channel Input×Gradient attributions `x ⊙ ∂S_c/∂x` `[N, H, W, C]` (S_c the target LOGIT, x
 * in the user's pixel range, as the classifier receives it), computed in batches of
 * `batchSize` images. Caller-owned.
 *
 * @example
 * ```ts
 * const attr = await inputXGradientAttributions(classifier, images, [3]);
 * ```
 */
export async function inputXGradientAttributions(
  classifier: Classifier, images: tf.Tensor4D, targets: Targets, opts: InputXGradientOptions = {},
): Promise<tf.Tensor4D> {
  const batchSize = checkPositiveInt(opts.batchSize ?? 4, 'inputXGradient: batchSize');
  await checkImages(images, classifier, classifier.inputSize);
  const classes = await resolveTargets(classifier, images, targets, batchSize);
  const grad = logitGradient(classifier);
  const n = images.shape[0];
  const parts: tf.Tensor4D[] = [];
  try {
    for (let start = 0; start < n; start += batchSize) {
      throwIfAborted(opts.signal);
      const size = Math.min(batchSize, n - start);
      const x = sliceBatch(images, start, size);
      try {
        const g = grad(x, classes.slice(start, start + size));
        parts.push(tf.tidy(() => tf.mul(tf.cast(x, 'float32'), g) as tf.Tensor4D));
        g.dispose();
      } finally {
        x.dispose();
      }
      opts.onProgress?.({ done: start + size, total: n, phase: 'inputxgradient' });
      if (start + size < n) await yieldToEventLoop();
    }
    if (parts.length === 1) return parts.pop() as tf.Tensor4D;
    return tf.concat(parts, 0) as tf.Tensor4D;
  } finally {
    tf.dispose(parts);
  }
}

/**
 * Input×Gradient (Shrikumar et al. 2016; the "gradient × input" baseline of Sundararajan et al.
 * 2017 and Captum's `InputXGradient`): attribution = x ⊙ ∂S_c/∂x, with S_c the target LOGIT and
 * x the image in the user's pixel range; aggregated over channels (`aggregate`, default
 * `'absSum'`) and min-max normalised per image. For a linear model S = w·x it is x ⊙ w exactly,
 * and it equals Integrated Gradients from a zero baseline whenever the model is linear along
 * the path. One forward + one backward pass per image.
 *
 * @throws SaliencyError `BAD_OPTION` (at once); `NO_GRADIENTS`, `ABORTED` and the image/target codes from `explain`.
 *
 * @example
 * ```ts
 * const maps = await inputXGradient().explain(classifier, images, 'top');
 * ```
 */
export function inputXGradient(opts: InputXGradientOptions = {}): SaliencyMethod {
  const aggregate = checkAggregate(opts.aggregate, 'inputXGradient', 'absSum');
  checkPositiveInt(opts.batchSize ?? 4, 'inputXGradient: batchSize');
  return {
    name: 'inputxgradient',
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      const attr = await inputXGradientAttributions(classifier, images, targets, opts);
      try {
        return attributionMaps(attr, aggregate);
      } finally {
        attr.dispose();
      }
    },
  };
}
