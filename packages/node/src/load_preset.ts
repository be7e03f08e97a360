import type { Classifier } from '@saliency/core/base';
import { loadModelsPackage } from './optional_packages.js';

/** The bundled models {@link loadPreset} knows. */
export const PRESET_NAMES = ['face', 'mobilenet', 'digits'] as const;
/** One of {@link PRESET_NAMES}. */
export type PresetName = (typeof PRESET_NAMES)[number];

/** A bundled classifier: the model, its default CAM layer and `dispose()`. */
export interface PresetClassifier {
  /** The wrapped model (images in 0–255). */
  classifier: Classifier;
  /** Default layer of the CAM methods. */
  camLayer: string;
  /** Frees the weights. */
  dispose(): void;
}

/**
 * Loads a bundled model of `@saliency/models` by name (imported on use; `MISSING_PACKAGE` when it
 * is not installed): `face` (face-api's face-expression classifier), `mobilenet` (nsfwjs's
 * MobileNetV2), `digits` (the digit CNN of the generated scenes).
 *
 * @param name - one of {@link PRESET_NAMES}.
 * @returns the classifier with its CAM layer.
 *
 * @example
 * ```ts
 * const { classifier, dispose } = await loadPreset('mobilenet');
 * ```
 */
export async function loadPreset(name: PresetName): Promise<PresetClassifier> {
  const models = await loadModelsPackage(`the '${name}' model`);
  if (name === 'face') return models.loadFaceExpressionClassifier();
  if (name === 'mobilenet') return models.loadMobileNetV2Classifier();
  return models.loadGeneratedClassifier();
}
