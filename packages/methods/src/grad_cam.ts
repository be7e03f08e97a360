import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, SaliencyMethod, Targets } from '@saliency/core/base';
import { camMaps, checkCamOptions, weightedActivations, type CamOptions, type CamSpec } from './cam_base.js';

/** Options of {@link gradCam}. */
export interface GradCamOptions extends CamOptions {}

/** Grad-CAM's weighting: α_k = spatial mean of ∂S_c/∂A_k, per image. */
export const GRAD_CAM: CamSpec = {
  name: 'gradcam',
  gradients: true,
  cam: ({ features, gradients }) => tf.tidy(() => {
    const alpha = tf.mean(gradients as tf.Tensor4D, [1, 2], true); // per image, per channel
    return weightedActivations(features, alpha);
  }),
};

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
  const o = checkCamOptions(opts, 'gradCam');
  return {
    name: 'gradcam',
    explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      return camMaps(classifier, images, targets, GRAD_CAM, o);
    },
  };
}
