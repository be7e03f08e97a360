/**
 * `@saliency/methods` — one file per saliency method. Applications usually
 * import these through the facade `@saliency/core`.
 *
 * @packageDocumentation
 * @module @saliency/methods
 */
export { vanillaGradient, type VanillaGradientOptions, type GradientAggregate } from './vanilla_gradient.js';
export { gradCam, type GradCamOptions } from './grad_cam.js';
export { guidedBackprop, guidedGradient, type GuidedBackpropOptions } from './guided_backprop.js';
export { withGuidedRelu, GUIDED_KERNELS } from './guided_relu.js';
export { meanGradients, type GradientMapOptions, type BatchGradient } from './gradient_maps.js';
export { logitGradient } from './logit_gradient.js';
export { SMOOTH_GRAD_SAMPLES, SMOOTH_GRAD_NOISE } from './smooth_grad.js';
export { tenCropViews, TEN_CROP_FRACTION, type CropView } from './ten_crop.js';
export { classModel, type ClassModelOptions } from './class_model.js';
export { groupCam, type GroupCamOptions } from './group_cam.js';
export { rise, riseMasks, riseMaskSpec, RISE_PRESETS, type RiseOptions, type RiseMaskSettings, type RiseMaskOptions, type RiseMaskSpec } from './rise.js';
export { scoreCam, type ScoreCamOptions } from './score_cam.js';
export { type SubstrateOption } from './substrate.js';
