import type * as tf from '@tensorflow/tfjs-core';
import type { Classifier, SaliencyMethod, Targets } from '@saliency/core/base';
import { checkGradientMapOptions, gradientMaps, type BatchGradient, type GradientMapOptions } from './gradient_maps.js';
import { withGuidedRelu } from './guided_relu.js';
import { logitGradient } from './logit_gradient.js';

/**
 * Options of {@link guidedBackprop}: the same as {@link vanillaGradient}'s —
 * channel aggregation, batching, SmoothGrad and ten-crop augmentation.
 */
export interface GuidedBackpropOptions extends GradientMapOptions {}

/**
 * Guided backpropagation (Springenberg et al. 2015): the input gradient of the
 * target class LOGIT where every ReLU's backward pass keeps only gradient that
 * is positive and whose forward input was positive. Covers `Relu` and `Relu6`
 * kernels, which is also what fused conv/matMul ops with a relu/relu6
 * activation run under a gradient tape (see {@link GUIDED_KERNELS}). The
 * override is installed around each batch's synchronous backward pass only
 * ({@link withGuidedRelu}) and the previous gradients are restored even when
 * the pass throws; nothing is overridden across an `await`.
 * Aggregated over channels (`maxAbs` by default) and min-max normalised.
 *
 * @example
 * ```ts
 * const maps = await guidedBackprop().explain(classifier, images, 'top');
 * const smooth = await guidedBackprop({ samples: 25, seed: 3 }).explain(classifier, images, [1]);
 * ```
 */
export function guidedBackprop(opts: GuidedBackpropOptions = {}): SaliencyMethod {
  const o = checkGradientMapOptions(opts);
  return {
    name: 'guided',
    explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      return gradientMaps(classifier, images, targets, guidedGradient(classifier), o);
    },
  };
}

/**
 * The guided-backprop batch gradient (unnormalised, per channel): the plain
 * logit gradient computed inside {@link withGuidedRelu}.
 *
 * @param classifier - the wrapped model.
 * @returns a {@link BatchGradient}.
 *
 * @example
 * ```ts
 * const g = guidedGradient(classifier)(images, [2]); // [N, H, W, C]
 * ```
 */
export function guidedGradient(classifier: Classifier): BatchGradient {
  const plain = logitGradient(classifier);
  return (x, targets) => withGuidedRelu(() => plain(x, targets));
}
