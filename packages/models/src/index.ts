/**
 * `@saliency/models` — the pretrained models and sample data the demo, the examples, the tests
 * and the evaluation suite use: face-api's face-expression classifier (weights from
 * `@vladmandic/face-api`), nsfwjs's MobileNetV2, the bundled digit CNN and its masking model,
 * face-api's sample photographs with their face boxes, and a few public-domain photographs.
 * Node only (it reads the installed packages' files); the face-expression architecture alone,
 * for browsers, is `@saliency/models/browser`.
 *
 * Explaining your own model needs none of this: `@saliency/core` + `@saliency/node` (or
 * `@saliency/web`) are enough.
 *
 * @packageDocumentation
 * @module @saliency/models
 */
export * from './face_expression_model.js';
export * from './face_expression.js';
export * from './nsfw.js';
export * from './classifiers.js';
export * from './sample_faces.js';
export * from './generated_cnn.js';
export { findAsset } from './assets.js';
export { detectFaces, releaseFaceDetector, type DetectedFace, type DetectFacesOptions } from './face_detector.js';
export * from './bundled_maskers.js';
