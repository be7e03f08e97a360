import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, SaliencyMethod, Targets } from '@saliency/core/base';
import { camMaps, checkCamOptions, weightedActivations, type CamOptions, type CamSpec } from './cam_base.js';

/** Options of {@link xGradCam}. */
export interface XGradCamOptions extends CamOptions {}

/**
 * XGrad-CAM's channel weights (Fu et al. 2020, Eq. 9): α_k = Σ_ij (A_ij^k · ∂S_c/∂A_ij^k) / Σ_ij A_ij^k,
 * 0 for a channel whose activations sum to 0. On a net whose head is global average pooling
 * and a dense layer, α_k = w_ck / (h·w): the dense weights up to one constant.
 *
 * @param features - A, `[b, h, w, k]`.
 * @param gradients - ∂S_c/∂A, same shape.
 * @returns `[b, 1, 1, k]` (caller-owned).
 *
 * @example
 * ```ts
 * const alpha = xGradCamWeights(a, g);
 * ```
 */
export function xGradCamWeights(features: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const num = tf.sum(tf.mul(features, gradients), [1, 2], true);
    const den = tf.sum(features, [1, 2], true);
    const nz = tf.notEqual(den, 0);
    return tf.where(nz, tf.div(num, tf.where(nz, den, tf.onesLike(den))), tf.zerosLike(den)) as tf.Tensor4D;
  });
}

const X_GRAD_CAM: CamSpec = {
  name: 'xgradcam',
  gradients: true,
  cam: ({ features, gradients }) => tf.tidy(() => weightedActivations(features, xGradCamWeights(features, gradients as tf.Tensor4D))),
};

/**
 * XGrad-CAM (Fu, Hu, Dong, Guo, Gao & Li, BMVC 2020, "Axiom-based Grad-CAM"): Grad-CAM with
 * the weights that satisfy the paper's sensitivity and conservation axioms,
 * α_k = Σ_ij A_ij^k ∂S_c/∂A_ij^k / Σ_ij A_ij^k ({@link xGradCamWeights}); map = ReLU(Σ_k α_k A_k),
 * bilinearly up-sampled, min-max normalised per image. Same cost as Grad-CAM.
 *
 * @throws SaliencyError `BAD_OPTION` (at once); `UNKNOWN_LAYER`, `LAYER_NOT_4D`, `NO_GRADIENTS`,
 *   `ABORTED` and the image/target codes from `explain`.
 *
 * @example
 * ```ts
 * const maps = await xGradCam().explain(classifier, images, 'top');
 * ```
 */
export function xGradCam(opts: XGradCamOptions = {}): SaliencyMethod {
  const o = checkCamOptions(opts, 'xGradCam');
  return {
    name: 'xgradcam',
    explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      return camMaps(classifier, images, targets, X_GRAD_CAM, o);
    },
  };
}
