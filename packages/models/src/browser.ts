/**
 * `@saliency/models/browser` — the face-expression classifier's architecture, weight decoding and
 * constants, with no Node built-in: fetch face-api's `face_expression_model` files yourself and
 * build the model with {@link buildFaceExpressionModel} + {@link loadFaceExpressionWeights}.
 *
 * @packageDocumentation
 * @module @saliency/models/browser
 */
export * from './face_expression_model.js';
