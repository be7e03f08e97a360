/**
 * A trained masking model as a {@link SaliencyMethod}.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, checkPositiveInt, concatBatches, resolveTargets, SaliencyError, sliceBatch,
  type Classifier, type LongRunningOptions, type SaliencyMethod, type Targets,
} from '@saliency/core/base';
import { internalsOf, type MaskingModel } from './architecture.js';

/** Options of {@link maskingModel}. */
export interface MaskingModelMethodOptions extends LongRunningOptions {
  /** Images per forward pass (default 32). */
  batchSize?: number;
}

/**
 * The real-time masking model (Dabkowski & Gal 2017) as a saliency method
 * (name `'masking'`): one forward pass of the trained model per batch gives the
 * mask for each image and its target class. The map IS the mask, in [0, 1]
 * (1 = needed to keep the class, 0 = can be removed) — not min-max normalised,
 * so that an empty mask (the class is not in the image) stays empty.
 *
 * `explain` must be given the classifier the model was trained for (or one with
 * the same input size, classes and layers); targets are resolved like every method
 * (`'top'` = the classifier's argmax, here read from the same forward pass that gives the
 * encoder's features: the coarsest encoder layer through `classifier.at(layer).head`).
 *
 * @param trained - a model from `trainMaskingModel` / `loadMaskingModel`.
 * @param opts - see {@link MaskingModelMethodOptions}.
 * @throws SaliencyError `BAD_OPTION` (not a masking model, another classifier), and
 *   from `explain` the image/target codes and `ABORTED`.
 *
 * @example
 * ```ts
 * const maps = await maskingModel(model).explain(classifier, images, 'top');
 * ```
 */
export function maskingModel(trained: MaskingModel, opts: MaskingModelMethodOptions = {}): SaliencyMethod {
  const m = internalsOf(trained, 'maskingModel');
  const batchSize = checkPositiveInt(opts.batchSize ?? 32, 'maskingModel: batchSize');
  return {
    name: 'masking',
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      const c = m.config;
      if (classifier !== m.classifier && (classifier.numClasses !== c.numClasses || classifier.channels !== c.channels
        || classifier.inputSize[0] !== c.inputSize[0] || classifier.inputSize[1] !== c.inputSize[1])) {
        throw new SaliencyError('BAD_OPTION', `maskingModel: this masking model was trained for a classifier with input ${c.inputSize.join('×')}×${c.channels} and ${c.numClasses} classes; explain() was given another one.`);
      }
      await checkImages(images, classifier, classifier.inputSize);
      // 'top': the class comes from the encoder's own forward pass (masksForTop), not from a
      // separate classifier pass; given classes are checked as every method checks them.
      const classes = targets === 'top' ? null : await resolveTargets(classifier, images, targets, batchSize);
      // Masks are |a| / (|a| + |b| + ε) bilinearly resized: in [0, 1) by construction, no clip needed.
      // One batch reads the images as given (masks() never changes its input; no copy).
      const n = images.shape[0];
      return concatBatches(n, batchSize, (start, size) => tf.tidy(() => {
        const x = start === 0 && size === n ? images : sliceBatch(images, start, size);
        return classes == null ? m.masksForTop(x).masks : m.masks(x, classes.slice(start, start + size));
      }), { ...opts, phase: 'masking' });
    },
  };
}
