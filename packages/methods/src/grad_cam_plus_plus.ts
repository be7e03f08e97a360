import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, SaliencyMethod, Targets } from '@saliency/core/base';
import { camMaps, checkCamOptions, weightedActivations, type CamOptions, type CamSpec } from './cam_base.js';

/** Options of {@link gradCamPlusPlus}. */
export interface GradCamPlusPlusOptions extends CamOptions {}

/**
 * Grad-CAM++'s channel weights from activations `A` `[b, h, w, k]` and logit gradients
 * `g = ∂S_c/∂A` (same shape), in the closed form of Chattopadhyay et al. 2018, Eq. 19, for the
 * class score Y_c = exp(S_c):
 *
 * α_ij^k = g_ij² / (2·g_ij² + Σ_ab A_ab^k · g_ij³)   (0 where the denominator is 0),
 * w_k = Σ_ij α_ij^k · ReLU(∂Y_c/∂A_ij^k) = exp(S_c) · Σ_ij α_ij^k · ReLU(g_ij).
 *
 * The exponential's higher derivatives give exactly the second and third powers of g (the
 * exp(S_c) factors cancel in α); the remaining exp(S_c) multiplies every weight of an image by the
 * same positive number, so it is left out here (it would overflow float32 for logits above ≈ 88)
 * — the map, min-max normalised per image, is unchanged by it.
 *
 * @returns `[b, 1, 1, k]` (caller-owned).
 *
 * @example
 * ```ts
 * const w = gradCamPlusPlusWeights(a, g); // Σ_k w_k A_k is Grad-CAM++'s map before the ReLU
 * ```
 */
export function gradCamPlusPlusWeights(features: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const g2 = tf.square(gradients);
    const g3 = tf.mul(g2, gradients);
    const sumA = tf.sum(features, [1, 2], true);
    const denom = tf.add(tf.mul(g2, 2), tf.mul(sumA, g3));
    const safe = tf.where(tf.notEqual(denom, 0), denom, tf.onesLike(denom));
    const alpha = tf.where(tf.notEqual(denom, 0), tf.div(g2, safe), tf.zerosLike(denom));
    return tf.sum(tf.mul(alpha, tf.relu(gradients)), [1, 2], true) as tf.Tensor4D;
  });
}

/** Grad-CAM++ as a {@link CamSpec}. */
const GRAD_CAM_PLUS_PLUS: CamSpec = {
  name: 'gradcam++',
  gradients: true,
  cam: ({ features, gradients }) => tf.tidy(() => weightedActivations(features, gradCamPlusPlusWeights(features, gradients as tf.Tensor4D))),
};

/**
 * Grad-CAM++ (Chattopadhyay, Sarkar, Howlader & Balasubramanian, WACV 2018): like Grad-CAM,
 * but each channel's weight sums the POSITIVE gradients with pixel-wise coefficients α from the
 * closed form of the paper's Eq. 19 (see {@link gradCamPlusPlusWeights}), which lets several
 * instances of a class each contribute; map = ReLU(Σ_k w_k A_k), bilinearly up-sampled,
 * min-max normalised per image. One forward pass to the layer and one backward pass from the
 * target LOGIT to it per batch of images.
 *
 * @throws SaliencyError `BAD_OPTION` (at once); `UNKNOWN_LAYER`, `LAYER_NOT_4D`, `NO_GRADIENTS`,
 *   `ABORTED` and the image/target codes from `explain`.
 *
 * @example
 * ```ts
 * const maps = await gradCamPlusPlus({ layer: 'dense3' }).explain(classifier, images, 'top');
 * ```
 */
export function gradCamPlusPlus(opts: GradCamPlusPlusOptions = {}): SaliencyMethod {
  const o = checkCamOptions(opts, 'gradCamPlusPlus');
  return {
    name: 'gradcam++',
    explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      return camMaps(classifier, images, targets, GRAD_CAM_PLUS_PLUS, o);
    },
  };
}
