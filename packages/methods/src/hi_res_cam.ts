import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, SaliencyMethod, Targets } from '@saliency/core/base';
import { camMaps, checkCamOptions, weightedActivations, type CamOptions, type CamSpec } from './cam_base.js';

/** Options of {@link hiResCam}. */
export interface HiResCamOptions extends CamOptions {}

const HI_RES_CAM: CamSpec = {
  name: 'hirescam',
  gradients: true,
  cam: ({ features, gradients }) => tf.tidy(() => weightedActivations(features, gradients as tf.Tensor4D)),
};

/**
 * HiResCAM (Draelos & Carin 2020, "Use HiResCAM instead of Grad-CAM for faithful explanations
 * of convolutional neural networks"): the gradients multiply the activations ELEMENT-WISE
 * instead of being averaged first, map = ReLU(Σ_k ∂S_c/∂A_k ⊙ A_k), bilinearly up-sampled,
 * min-max normalised per image. For a net whose head is global average pooling and a dense
 * layer it equals Grad-CAM (and CAM), as the paper proves; elsewhere it shows the locations
 * that raise the score, which Grad-CAM's averaging can blur. Same cost as Grad-CAM.
 *
 * @throws SaliencyError `BAD_OPTION` (at once); `UNKNOWN_LAYER`, `LAYER_NOT_4D`, `NO_GRADIENTS`,
 *   `ABORTED` and the image/target codes from `explain`.
 *
 * @example
 * ```ts
 * const maps = await hiResCam({ layer: 'dense3' }).explain(classifier, images, [1]);
 * ```
 */
export function hiResCam(opts: HiResCamOptions = {}): SaliencyMethod {
  const o = checkCamOptions(opts, 'hiResCam');
  return {
    name: 'hirescam',
    explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      return camMaps(classifier, images, targets, HI_RES_CAM, o);
    },
  };
}
