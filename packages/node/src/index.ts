/**
 * `@saliency/node` — the Node.js side: backend choice (CUDA → native → wasm → cpu),
 * image files in and out, the bundled pretrained models, and the `saliency` CLI.
 *
 * @packageDocumentation
 * @module @saliency/node
 */
export * from './backend.js';
export * from './image_io.js';
export * from './explain_files.js';
export * from './models/face_expression.js';
export * from './models/nsfw.js';
export * from './models/classifiers.js';
export * from './models/sample_faces.js';
export { runCli, USAGE } from './cli_run.js';
