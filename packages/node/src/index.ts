/**
 * `@saliency/node` — the Node.js side: backend choice (CUDA → WebGPU → native → wasm → cpu), image
 * files in and out, model files, and the `saliency` CLI. The pretrained models and sample
 * images are `@saliency/models`; the evaluation suite, generated data sets and masker training
 * are `@saliency/eval` (the CLI loads them when a command needs them).
 *
 * @packageDocumentation
 * @module @saliency/node
 */
export * from './backend.js';
export { describeWebGpuAdapter, LAVAPIPE_INSTALL_COMMAND, type WebGpuAdapter } from './webgpu_backend.js';
export * from './image_io.js';
export * from './file_handler.js';
export * from './explain_files.js';
export { runCli, USAGE, DEMO_METHODS } from './cli_run.js';
export {
  runExplainPool, explainChildEntry, type ExplainSettings, type ExplainPoolOptions, type ExplainPoolResult, type ExplainPoolEvent,
  type ExplainOutcome, type ExplainError,
} from './explain_pool.js';
export type { ExplainInput } from './cli_explain_inputs.js';
export { enableWasmThreads, KNOWN_WASM_VERSION, type WasmThreadsOptions, type WasmThreadsResult, type WasmThreadsCode } from './wasm_threads.js';
export {
  chooseWasmThreads, workerProcessEnv, WASM_THREADS_ENV, WORKER_PROCESS_ENV, MAX_WASM_THREADS, type WasmThreadsPlan, type WasmThreadsSource,
} from './wasm_threads_policy.js';
export { loadClassifier, readLabels, modelJsonFormat, MODEL_CONFIG_FILE, type ModelSpec, type LoadedClassifier } from './load_classifier.js';
export { loadPreset, PRESET_NAMES, type PresetName, type PresetClassifier } from './load_preset.js';
export { modelSpecFromFlags, type ModelFlags } from './cli_model_flags.js';
