/**
 * `@saliency/node` — the Node.js side: backend choice (CUDA → WebGPU → native → wasm → cpu),
 * image files in and out, the bundled pretrained models, and the `saliency` CLI.
 *
 * @packageDocumentation
 * @module @saliency/node
 */
export * from './backend.js';
export { describeWebGpuAdapter, LAVAPIPE_INSTALL_COMMAND, type WebGpuAdapter } from './webgpu_backend.js';
export * from './image_io.js';
export * from './file_handler.js';
export * from './explain_files.js';
export * from './models/face_expression.js';
export * from './models/nsfw.js';
export * from './models/classifiers.js';
export * from './models/sample_faces.js';
export { runCli, USAGE, DEMO_METHODS } from './cli_run.js';
export * from './datasets/index.js';
export * from './models/generated_cnn.js';
export { trainMasker, loadDigitMasker, hasDigitMasker, pickEncoderLayers, generatedMaskingData, MASKER_TRAIN_SEED, DIGIT_MASKER_TRAINING, type TrainMaskerOptions, type TrainedMasker, type DigitMaskerTraining } from './train_masker.js';
export { runEvaluation, EVAL_METHODS, EVAL_SPLITS, EVAL_SESS_OPTIONS, SKIPPED_VARIANTS, type EvalOptions, type EvalResult, type EvalFiles } from './eval/run_eval.js';
export { EVAL_SET_NAMES, type EvalSetName, type EvalSplit, type EvalItem, type EvalSet, type EvalModelName } from './eval/eval_set.js';
export type { SummaryRow, MeanCurves } from './eval/summary.js';
export { enableWasmThreads, type WasmThreadsOptions, type WasmThreadsResult } from './wasm_threads.js';
