/**
 * `@saliency/node` — the Node.js side: backend choice (CUDA → native → wasm → cpu), image
 * files in and out, model files, and the `saliency` CLI. The pretrained models and sample
 * images are `@saliency/models`; the evaluation suite, generated data sets and masker training
 * are `@saliency/eval` (the CLI loads them when a command needs them).
 *
 * @packageDocumentation
 * @module @saliency/node
 */
export * from './backend.js';
export * from './image_io.js';
export * from './file_handler.js';
export * from './explain_files.js';
export { runCli, USAGE, DEMO_METHODS } from './cli_run.js';
export { enableWasmThreads, type WasmThreadsOptions, type WasmThreadsResult } from './wasm_threads.js';
