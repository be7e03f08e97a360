/**
 * `@saliency/web` — the browser side of `@saliency`: backend choice
 * (WebGPU → WebGL → wasm → cpu, with the reason each earlier one was skipped),
 * images in from `<img>`, canvases, `ImageBitmap`, `ImageData`, `<video>` and
 * `File`/`Blob`; saliency maps out as `ImageData`, overlays drawn on a canvas
 * and PNG blobs; classifiers loaded from a `model.json` URL or IndexedDB.
 * Nothing here imports a Node.js built-in.
 *
 * @packageDocumentation
 * @module @saliency/web
 */
export * from './backend.js';
export type { AnyCanvas } from './canvas.js';
export * from './image_input.js';
export * from './image_output.js';
export * from './load_model.js';
