import { fromLayersModel, type Classifier } from '@saliency/core/base';
import { FACE_EXPRESSION_CLASSES, FACE_EXPRESSION_MEAN, FACE_EXPRESSION_LAST_CONV_LAYER } from './face_expression_model.js';
import { loadFaceExpressionModel } from './face_expression.js';
import { loadNsfwMobileNetV2, NSFW_CLASSES, NSFW_MOBILENET_V2_LAST_CONV_LAYER } from './nsfw.js';

/** A bundled classifier with its default CAM layer; call `dispose()` when done. */
export interface BundledClassifier {
  /** The wrapped model (images in 0–255). */
  classifier: Classifier;
  /** The layer Grad-CAM should use by default. */
  camLayer: string;
  /** Frees the model's weights. */
  dispose(): void;
}

/**
 * The face-expression classifier whose weights ship in `@vladmandic/face-api`:
 * 112×112 RGB faces in 0–255, 7 classes (neutral, happy, sad, angry, fearful, disgusted, surprised).
 *
 * @example
 * ```ts
 * const { classifier, dispose } = await loadFaceExpressionClassifier();
 * ```
 */
export async function loadFaceExpressionClassifier(): Promise<BundledClassifier> {
  const model = await loadFaceExpressionModel();
  const classifier = fromLayersModel(model, {
    classNames: FACE_EXPRESSION_CLASSES,
    preprocess: { inputRange: [0, 255], mean: FACE_EXPRESSION_MEAN, std: 255 },
  });
  return { classifier, camLayer: FACE_EXPRESSION_LAST_CONV_LAYER, dispose: () => model.dispose() };
}

/**
 * nsfwjs 4.4's MobileNetV2 (224×224 RGB in 0–255, 5 classes Drawing, Hentai, Neutral, Porn, Sexy),
 * a realistic-size layers model. Use it on neutral photographs only.
 *
 * @example
 * ```ts
 * const { classifier } = await loadMobileNetV2Classifier();
 * ```
 */
export async function loadMobileNetV2Classifier(): Promise<BundledClassifier> {
  const model = await loadNsfwMobileNetV2();
  const classifier = fromLayersModel(model, {
    classNames: NSFW_CLASSES,
    preprocess: { inputRange: [0, 255], modelRange: [0, 1] },
  });
  return { classifier, camLayer: NSFW_MOBILENET_V2_LAST_CONV_LAYER, dispose: () => model.dispose() };
}
