import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, resolveTargets, sliceBatch, throwIfAborted, yieldToEventLoop,
  type Classifier, type SaliencyMethod, type Targets,
} from '@saliency/core/base';
import { attributionMaps, checkAggregate, type AttributionAggregate } from './attribution_maps.js';
import { camMaps, checkCamOptions, type CamOptions } from './cam_base.js';
import { GRAD_CAM } from './grad_cam.js';
import { guidedGradient } from './guided_backprop.js';

/** Options of {@link guidedGradCam}. */
export interface GuidedGradCamOptions extends CamOptions {
  /** Channel aggregation of the product (default `'maxAbs'`, as {@link guidedBackprop}). */
  aggregate?: AttributionAggregate;
}

/**
 * Guided Grad-CAM (Selvaraju et al. 2017, Sec. 3.1): Guided Backprop's per-channel input
 * gradient multiplied pixel-wise by the Grad-CAM map bilinearly up-sampled to the input (both
 * for the target LOGIT), aggregated over channels (`aggregate`, default `'maxAbs'`) and min-max
 * normalised per image: fine detail from Guided Backprop, class-discrimination from Grad-CAM.
 * Per batch of images: Grad-CAM's forward + backward from the layer, then one full forward +
 * guided backward pass. `onProgress` counts images (phase `'guidedgradcam'`).
 *
 * @throws SaliencyError `BAD_OPTION` (at once); `UNKNOWN_LAYER`, `LAYER_NOT_4D`, `NO_GRADIENTS`,
 *   `ABORTED` and the image/target codes from `explain`.
 *
 * @example
 * ```ts
 * const maps = await guidedGradCam({ layer: 'dense3' }).explain(classifier, images, 'top');
 * ```
 */
export function guidedGradCam(opts: GuidedGradCamOptions = {}): SaliencyMethod {
  const o = checkCamOptions(opts, 'guidedGradCam', 4);
  const aggregate = checkAggregate(opts.aggregate, 'guidedGradCam', 'maxAbs');
  return {
    name: 'guidedgradcam',
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      await checkImages(images, classifier, classifier.inputSize);
      classifier.at(o.layer); // unknown layers fail before any work
      const classes = await resolveTargets(classifier, images, targets, o.batchSize);
      const guided = guidedGradient(classifier);
      const n = images.shape[0];
      const parts: tf.Tensor3D[] = [];
      try {
        for (let start = 0; start < n; start += o.batchSize) {
          throwIfAborted(o.signal);
          const size = Math.min(o.batchSize, n - start);
          const t = classes.slice(start, start + size);
          const x = sliceBatch(images, start, size);
          try {
            const cam = await camMaps(classifier, x, t, GRAD_CAM, { layer: o.layer, batchSize: size });
            let g: tf.Tensor4D;
            try {
              g = guided(x, t);
            } catch (e) {
              cam.dispose();
              throw e;
            }
            parts.push(tf.tidy(() => attributionMaps(tf.mul(g, tf.expandDims(cam, 3)) as tf.Tensor4D, aggregate)));
            tf.dispose([g, cam]);
          } finally {
            x.dispose();
          }
          o.onProgress?.({ done: start + size, total: n, phase: 'guidedgradcam' });
          if (start + size < n) await yieldToEventLoop();
        }
        if (parts.length === 1) return parts.pop() as tf.Tensor3D;
        return tf.concat(parts, 0) as tf.Tensor3D;
      } finally {
        tf.dispose(parts);
      }
    },
  };
}
