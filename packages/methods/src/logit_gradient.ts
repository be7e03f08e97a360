import type * as tf from '@tensorflow/tfjs-core';
import { inputGradient, selectTargets, type Classifier } from '@saliency/core/base';
import type { BatchGradient } from './gradient_maps.js';

/**
 * The plain batch gradient of the gradient methods: ∂(Σ_i S_{c_i}(x_i))/∂x with
 * S_c the class LOGIT, through the fast path for fused kernels
 * (`inputGradient`; a failing pass leaves no tensors behind). Each image's gradient is that of its own logit, since the
 * images of a batch do not interact.
 *
 * @param classifier - the wrapped model.
 * @returns a {@link BatchGradient}.
 *
 * @example
 * ```ts
 * const g = logitGradient(classifier)(images, [0, 3]);
 * ```
 */
export function logitGradient(classifier: Classifier): BatchGradient {
  return (x: tf.Tensor4D, targets: readonly number[]) =>
    inputGradient((xi: tf.Tensor4D) => selectTargets(classifier.logits(xi), targets), x);
}
