/*
 * The objective of a batch of masks: composites Φ(x, M) and Φ(x, 1 − M), one
 * forward pass of the classifier over both, and the per-sample terms.
 * Internal to @saliency/methods.
 */
import * as tf from '@tensorflow/tfjs-core';
import { composite, type Classifier } from '@saliency/core/base';
import { combineObjective, objectiveTerms, type ObjectiveTerms, type ObjectiveWeights } from './objective.js';

/** Per-sample objective and its terms, each `[N]`. */
export interface MaskedObjective {
  /** `λ_tv·TV + λ_area·AR + real·(−log p_c(Φ(x, M)) + λ_d·p_c(Φ(x, 1 − M))^λ_p)`. */
  perSample: tf.Tensor1D;
  /** The unweighted terms. */
  terms: ObjectiveTerms;
}

/**
 * The objective for masks `[N, H, W]` at the input size: the preserved and
 * destroyed composites go through the classifier in ONE forward pass of 2N images.
 *
 * @param images - `[N, H, W, C]` (already noised), user range.
 * @param alt - alternative images A `[N, H, W, C]`.
 * @param classes - `[N]` class given per sample.
 * @param real - `[N]` 1 for a real label, 0 for a fake one.
 */
export function maskedObjective(
  classifier: Classifier,
  images: tf.Tensor4D,
  alt: tf.Tensor4D,
  masks: tf.Tensor3D,
  classes: tf.Tensor1D,
  real: tf.Tensor1D,
  w: ObjectiveWeights,
): MaskedObjective {
  const run = (): MaskedObjective => {
    const n = images.shape[0];
    const preserved = composite(images, masks, alt);
    const destroyed = composite(images, tf.sub(1, masks), alt);
    const logits = classifier.logits(tf.concat([preserved, destroyed], 0) as tf.Tensor4D);
    const k = logits.shape[1];
    const pl = tf.slice(logits, [0, 0], [n, k]) as tf.Tensor2D;
    const dl = tf.slice(logits, [n, 0], [n, k]) as tf.Tensor2D;
    const terms = objectiveTerms(masks, pl, dl, classes, w);
    return { perSample: combineObjective(terms, real, w), terms };
  };
  // tf.tidy keeps every tensor of the returned (nested) object.
  return tf.tidy(run as unknown as () => tf.TensorContainer) as unknown as MaskedObjective;
}
