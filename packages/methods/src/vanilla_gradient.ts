import type * as tf from '@tensorflow/tfjs-core';
import type { Classifier, SaliencyMethod, Targets } from '@saliency/core/base';
import { checkGradientMapOptions, gradientMaps, type GradientMapOptions } from './gradient_maps.js';
import { logitGradient } from './logit_gradient.js';

export type { GradientAggregate } from './gradient_maps.js';

/**
 * Options of {@link vanillaGradient}: channel aggregation, batching, SmoothGrad
 * (`samples`, `noise`, `seed`) and ten-crop test-time augmentation (`tenCrop`).
 */
export interface VanillaGradientOptions extends GradientMapOptions {}

/**
 * Vanilla gradient saliency (Simonyan, Vedaldi & Zisserman 2014): the
 * gradient of the target class LOGIT with respect to the input pixels,
 * aggregated over channels, min-max normalised per image. With `samples > 0`
 * it is SmoothGrad (Smilkov et al. 2017): the gradient averaged over noisy
 * copies; with `tenCrop` it is averaged over the ten crops (see
 * {@link GradientMapOptions}).
 *
 * @example
 * ```ts
 * const maps = await vanillaGradient().explain(classifier, images, 'top');
 * const smooth = await vanillaGradient({ samples: 25, noise: 0.15, seed: 1 }).explain(classifier, images, 'top');
 * ```
 */
export function vanillaGradient(opts: VanillaGradientOptions = {}): SaliencyMethod {
  const o = checkGradientMapOptions(opts);
  return {
    name: o.samples > 0 ? 'smoothgrad' : 'gradient',
    explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      return gradientMaps(classifier, images, targets, logitGradient(classifier), o);
    },
  };
}
