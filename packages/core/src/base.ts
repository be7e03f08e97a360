/**
 * The primitives of `@saliency/core`: ops, the classifier wrappers, the method
 * contract, gradients and errors. Method, SESS and metric packages import this
 * entry; applications import the facade `@saliency/core`.
 *
 * @packageDocumentation
 * @module @saliency/core/base
 */
import '@tensorflow/tfjs-layers'; // registers tfjs's gradient functions (tfjs-core alone registers none)

export * from './errors.js';
export * from './types.js';
export * from './ops/index.js';
export * from './classifier/preprocess.js';
export * from './classifier/options.js';
export { fromLayersModel } from './classifier/from_layers_model.js';
export { fromGraphModel, type GraphModelLike } from './classifier/from_graph_model.js';
export { fromFunction, type FunctionLayer, type FunctionClassifierOptions } from './classifier/from_function.js';
export { withFastGradients } from './gradients/fast_fused.js';
export { inputGradient, ensureGradientKernels, variableGradients, type VariableGradients } from './gradients/input_gradient.js';
export * from './gradients/kernel_bridge.js';
export { resolveTargets, selectTargets } from './targets.js';
export { checkImages, checkPositiveInt, INPUT_RANGE_TOLERANCE, throwIfAborted } from './validate.js';
export { concatBatches, sliceBatch } from './batches.js';
export { imageToTensor } from './image.js';
export { explain, type ExplainOptions, type AnySizeMethod } from './explain.js';
export { yieldToEventLoop } from './event_loop.js';
export type { SkippedBackendOf, BackendChoiceOf } from './backend_report.js';
export { modelZeroColour } from './model_zero.js';
export { registerFastBackwardKernels, FAST_BACKWARD_KERNELS, type FastBackwardKernels } from './gradients/wasm_backward_kernels.js';
export { mulberry32, standardNormals } from './random.js';
