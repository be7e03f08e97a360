/**
 * `@saliency/methods` — one file per saliency method. Applications usually
 * import these through the facade `@saliency/core`.
 *
 * @packageDocumentation
 * @module @saliency/methods
 */
export { vanillaGradient, type VanillaGradientOptions, type GradientAggregate } from './vanilla_gradient.js';
export { gradCam, type GradCamOptions } from './grad_cam.js';
