import { SaliencyError } from '@saliency/core/base';
import { checkBox, iou, type Box } from './box.js';

/** Options of {@link localisationError}. */
export interface LocalisationOptions {
  /** A prediction is correct when its IoU with some ground-truth box is ≥ this (default 0.5). */
  iouThreshold?: number;
}

/** Result of {@link localisationError}. */
export interface LocalisationResult {
  /** `1 − correct / total`. */
  error: number;
  /** Correct predictions. */
  correct: number;
  /** Predictions in all. */
  total: number;
}

/**
 * Localisation error: a prediction is correct when it is not `null` and its
 * IoU with at least one of the image's ground-truth boxes is ≥ `iouThreshold`
 * (default 0.5, the ImageNet localisation criterion used by Dabkowski & Gal);
 * error = 1 − correct / total.
 *
 * @param predicted - one box (or `null` = no prediction, counted wrong) per image.
 * @param groundTruth - the ground-truth boxes of each image, same length.
 * @param opts - see {@link LocalisationOptions}.
 * @throws SaliencyError `BAD_OPTION` for different lengths, no images, a bad box or threshold.
 *
 * @example
 * ```ts
 * const predicted = await Promise.all(maps.map((m) => boxFromMask(m)));
 * const { error } = localisationError(predicted, groundTruthBoxes);
 * ```
 */
export function localisationError(
  predicted: readonly (Box | null)[],
  groundTruth: readonly (readonly Box[])[],
  opts: LocalisationOptions = {},
): LocalisationResult {
  const fn = 'localisationError';
  const t = opts.iouThreshold ?? 0.5;
  if (typeof t !== 'number' || !(t >= 0 && t <= 1)) {
    throw new SaliencyError('BAD_OPTION', `${fn}: iouThreshold must be in [0, 1] (default 0.5); got ${String(t)}.`);
  }
  if (!Array.isArray(predicted) || !Array.isArray(groundTruth) || predicted.length !== groundTruth.length || predicted.length === 0) {
    throw new SaliencyError('BAD_OPTION', `${fn}: predicted and groundTruth must be non-empty arrays of the same length (one entry per image); got ${predicted?.length} and ${groundTruth?.length}.`);
  }
  let correct = 0;
  for (let i = 0; i < predicted.length; i++) {
    const gts = groundTruth[i];
    if (!Array.isArray(gts)) throw new SaliencyError('BAD_OPTION', `${fn}: groundTruth[${i}] must be an array of boxes.`);
    gts.forEach((g, j) => checkBox(g, `${fn}: groundTruth[${i}][${j}]`));
    const p = predicted[i];
    if (p == null) continue;
    checkBox(p, `${fn}: predicted[${i}]`);
    if (gts.some((g) => iou(p, g) >= t)) correct += 1;
  }
  return { error: 1 - correct / predicted.length, correct, total: predicted.length };
}
