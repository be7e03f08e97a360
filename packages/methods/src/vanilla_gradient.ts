import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, checkPositiveInt, concatBatches, inputGradient, minMaxNormalize, resolveTargets, selectTargets, sliceBatch,
  SaliencyError, type Classifier, type LongRunningOptions, type SaliencyMethod, type Targets,
} from '@saliency/core/base';

/** How the per-channel input gradient becomes one value per pixel. */
export type GradientAggregate = 'maxAbs' | 'absSum' | 'signed';

/** Options of {@link vanillaGradient}. */
export interface VanillaGradientOptions extends LongRunningOptions {
  /**
   * `'maxAbs'` (default, Simonyan et al.): max over channels of |∂S_c/∂x|;
   * `'absSum'`: sum over channels of |∂S_c/∂x|; `'signed'`: sum over channels of ∂S_c/∂x.
   */
  aggregate?: GradientAggregate;
  /** Images per backward pass (default 4: a 224² MobileNetV2 backward at batch 8 takes ~2.5 GiB on wasm). */
  batchSize?: number;
}

/**
 * Vanilla gradient saliency (Simonyan, Vedaldi & Zisserman 2014): the
 * gradient of the target class LOGIT with respect to the input pixels,
 * aggregated over channels, min-max normalised per image.
 *
 * @example
 * ```ts
 * const maps = await vanillaGradient().explain(classifier, images, 'top');
 * ```
 */
export function vanillaGradient(opts: VanillaGradientOptions = {}): SaliencyMethod {
  const aggregate = opts.aggregate ?? 'maxAbs';
  if (!['maxAbs', 'absSum', 'signed'].includes(aggregate)) {
    throw new SaliencyError('BAD_OPTION', `aggregate must be 'maxAbs', 'absSum' or 'signed'; got '${aggregate}'.`);
  }
  const batchSize = checkPositiveInt(opts.batchSize ?? 4, 'batchSize');
  return {
    name: 'gradient',
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      checkImages(images, classifier, classifier.inputSize);
      const classes = resolveTargets(classifier, images, targets, batchSize);
      return concatBatches(images.shape[0], batchSize, (start, size) => {
        const x = sliceBatch(images, start, size);
        try {
          const t = classes.slice(start, start + size);
          const g = inputGradient((xi: tf.Tensor4D) => selectTargets(classifier.logits(xi), t), x);
          return tf.tidy(() => {
            const per = aggregate === 'maxAbs' ? tf.max(tf.abs(g), -1)
              : aggregate === 'absSum' ? tf.sum(tf.abs(g), -1) : tf.sum(g, -1);
            g.dispose();
            return minMaxNormalize(per as tf.Tensor3D);
          });
        } finally {
          x.dispose();
        }
      }, { ...opts, phase: 'gradients' });
    },
  };
}
