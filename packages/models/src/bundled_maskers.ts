/**
 * The trained masking models that ship with the bundled classifiers.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadMaskingModel, SaliencyError, type Classifier, type MaskingModel } from '@saliency/core';
import { findAsset, readModelFolder } from './assets.js';

/** The asset folders of the bundled masking models, by the bundled classifier each was trained for. */
export interface BundledMaskerAssets {
  /** The digit CNN's masker (`loadGeneratedClassifier`). */
  readonly digits: 'masker-digits';
  /** The face-expression classifier's masker (`loadFaceExpressionClassifier`). */
  readonly face: 'masker-faces';
}

/** The bundled classifiers a trained masking model ships for, with the asset folder of each. */
export const BUNDLED_MASKERS: BundledMaskerAssets = Object.freeze({ digits: 'masker-digits', face: 'masker-faces' });

/** A bundled classifier with a masking model: `'digits'` (the digit CNN) or `'face'` (face-api's expression net). */
export type BundledMaskerModel = keyof BundledMaskerAssets;

/** The folder of a bundled masking model, or null when this installation lacks it. */
function maskerDir(model: string): string | null {
  if (!Object.hasOwn(BUNDLED_MASKERS, model)) return null;
  const asset = BUNDLED_MASKERS[model as BundledMaskerModel];
  try {
    const dir = findAsset(asset);
    return existsSync(join(dir, 'model.json')) ? dir : null;
  } catch {
    return null;
  }
}

/**
 * Whether a trained masking model ships for a bundled classifier (`'digits'`, `'face'`) in this
 * installation. Any other name: false.
 *
 * @example
 * ```ts
 * if (hasBundledMasker('face')) methods.push('masking');
 * ```
 */
export function hasBundledMasker(model: string): boolean {
  return maskerDir(model) != null;
}

/**
 * Loads the masking model trained for a bundled classifier (`assets/masker-digits/` for the digit
 * CNN, `assets/masker-faces/` for the face-expression net; both made by `saliency train-masker`).
 *
 * @param model - `'digits'` or `'face'`.
 * @param classifier - the bundled classifier of that name (its layers are the encoder).
 * @returns the model; the caller disposes it.
 * @throws SaliencyError `BAD_OPTION` for another name, a missing asset, or a classifier it does not fit.
 *
 * @example
 * ```ts
 * const { classifier } = await loadFaceExpressionClassifier();
 * const masker = await loadBundledMasker('face', classifier);
 * const maps = await maskingModel(masker).explain(classifier, faces, 'top');
 * ```
 */
export async function loadBundledMasker(model: BundledMaskerModel, classifier: Classifier): Promise<MaskingModel> {
  const dir = maskerDir(model);
  if (dir == null) {
    throw new SaliencyError('BAD_OPTION', `No trained masking model ships for '${String(model)}' here; bundled ones: ${Object.keys(BUNDLED_MASKERS).join(', ')}.`);
  }
  const artifacts = await readModelFolder(dir);
  return loadMaskingModel(classifier, { load: async () => artifacts });
}
