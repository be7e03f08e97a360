/**
 * `@saliency/methods` — one file per saliency method. Applications usually
 * import these through the facade `@saliency/core`.
 *
 * @packageDocumentation
 * @module @saliency/methods
 */
export { vanillaGradient, type VanillaGradientOptions, type GradientAggregate } from './vanilla_gradient.js';
export { gradCam, type GradCamOptions } from './grad_cam.js';
export { camMaps, weightedActivations, checkCamOptions, type CamOptions, type ResolvedCamOptions, type CamBatch, type CamSpec } from './cam_base.js';
export { gradCamPlusPlus, gradCamPlusPlusWeights, type GradCamPlusPlusOptions } from './grad_cam_plus_plus.js';
export { xGradCam, xGradCamWeights, type XGradCamOptions } from './x_grad_cam.js';
export { layerCam, type LayerCamOptions } from './layer_cam.js';
export { hiResCam, type HiResCamOptions } from './hi_res_cam.js';
export { eigenCam, type EigenCamOptions } from './eigen_cam.js';
export { ablationCam, type AblationCamOptions } from './ablation_cam.js';
export { guidedGradCam, type GuidedGradCamOptions } from './guided_grad_cam.js';
export { inputXGradient, inputXGradientAttributions, type InputXGradientOptions } from './input_x_gradient.js';
export {
  integratedGradients, integratedGradientsAttributions, type IntegratedGradientsOptions, type IntegratedGradientsResult,
  type CompletenessReport, type IgBaseline,
} from './integrated_gradients.js';
export { quadratureRule, type IntegrationRule, type QuadratureRule } from './quadrature.js';
export { type AttributionAggregate } from './attribution_maps.js';
export { occlusion, type OcclusionOptions, type OcclusionSubstrate } from './occlusion.js';
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
export { createMaskingModel, type MaskingModel, type MaskingModelOptions, type MaskingModelConfig, type MaskingUpsampler, type MaskingFinestBlock } from './masking/architecture.js';
export {
  trainMaskingModel, MASKING_TRAINING_DEFAULTS, type MaskingTrainingDefaults, type TrainMaskingOptions, type TrainMaskingResult,
  type MaskingLosses, type MaskingProgress,
} from './masking/train.js';
export { type MaskingSample, type MaskingData } from './masking/data.js';
export { saveMaskingModel, loadMaskingModel, MASKING_MODEL_FORMAT } from './masking/io.js';
export { maskingModel, type MaskingModelMethodOptions } from './masking/method.js';
export {
  MASKING_OBJECTIVE_DEFAULTS, smoothnessLoss, areaLoss, preserverLoss, destroyerLoss, existsLoss, type ObjectiveWeights,
} from './masking/objective.js';
export { ALTERNATIVE_DEFAULTS, type AlternativeOptions } from './masking/alternatives.js';
export { type ObjectiveOptionNames } from './masking/options.js';
export {
  meaningfulPerturbation, MEANINGFUL_PERTURBATION_DEFAULTS, type MeaningfulPerturbationDefaults, type MeaningfulPerturbationOptions,
} from './meaningful_perturbation.js';
