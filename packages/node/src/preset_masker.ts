import type { MaskingModel } from '@saliency/core';
import type { LoadedClassifier } from './load_classifier.js';
import { loadModelsPackage } from './optional_packages.js';

/**
 * The trained masking model that ships for a bundled classifier (`--model digits` or `face`), loaded
 * only when `methods` include `'masking'`; undefined otherwise (a model from disk, or `mobilenet`:
 * `explainFile` then reports that `masking` needs a trained model). The caller disposes it.
 *
 * @example
 * ```ts
 * const masker = await presetMasker(loaded, ['masking']);
 * await explainFile(loaded.classifier, 'face.jpg', { method: 'masking', masker, outDir: 'out' });
 * masker?.dispose();
 * ```
 */
export async function presetMasker(loaded: LoadedClassifier, methods: readonly string[]): Promise<MaskingModel | undefined> {
  const preset = loaded.spec.preset;
  if (!methods.includes('masking') || preset == null) return undefined;
  const models = await loadModelsPackage('The masking method');
  // hasBundledMasker knows which presets have one (false for any other name).
  return models.hasBundledMasker(preset) ? models.loadBundledMasker(preset as 'digits' | 'face', loaded.classifier) : undefined;
}
