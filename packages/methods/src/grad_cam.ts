import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, checkPositiveInt, concatBatches, inputGradient, minMaxNormalize, resolveTargets, selectTargets, sliceBatch,
  type Classifier, type LongRunningOptions, type SaliencyMethod, type Targets,
} from '@saliency/core/base';

/** Options of {@link gradCam}. */
export interface GradCamOptions extends LongRunningOptions {
  /** Layer whose activations are weighted: a name, or `'auto'` (default) = the last layer with a 4-D output. */
  layer?: string;
  /** Images per backward pass (default 8). */
  batchSize?: number;
}

/**
 * Grad-CAM (Selvaraju et al. 2017): α_k = spatial mean of ∂S_c/∂A_k, with S_c
 * the target LOGIT, computed PER IMAGE; map = ReLU(Σ_k α_k A_k), bilinearly
 * up-sampled to the input size and min-max normalised per image.
 *
 * @example
 * ```ts
 * const maps = await gradCam({ layer: 'dense3_out' }).explain(classifier, images, [1]);
 * ```
 */
export function gradCam(opts: GradCamOptions = {}): SaliencyMethod {
  const layer = opts.layer ?? 'auto';
  const batchSize = checkPositiveInt(opts.batchSize ?? 8, 'batchSize');
  return {
    name: 'gradcam',
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      await checkImages(images, classifier, classifier.inputSize);
      const access = classifier.at(layer);
      const classes = await resolveTargets(classifier, images, targets, batchSize);
      const [, h, w] = images.shape;
      return concatBatches(images.shape[0], batchSize, (start, size) => {
        const t = classes.slice(start, start + size);
        const x = tf.tidy(() => classifier.preprocess(sliceBatch(images, start, size)));
        let a: tf.Tensor4D | null = null;
        try {
          a = access.features(x);
          const feats = a;
          const grads = inputGradient((ai: tf.Tensor4D) => selectTargets(access.head(ai, x), t), feats);
          return tf.tidy(() => {
            const alpha = tf.mean(grads, [1, 2], true); // per image, per channel
            grads.dispose();
            const cam = tf.relu(tf.sum(tf.mul(feats, alpha), -1, true)) as tf.Tensor4D;
            const up = tf.image.resizeBilinear(cam, [h, w], false, true);
            return minMaxNormalize(tf.squeeze(up, [3]) as tf.Tensor3D);
          });
        } finally {
          a?.dispose();
          x.dispose();
        }
      }, { ...opts, phase: 'gradcam' });
    },
  };
}
