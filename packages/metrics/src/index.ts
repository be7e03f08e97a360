/**
 * `@saliency/metrics` — how faithful and how well localised a saliency map is
 * (design.md §5): deletion/insertion AUC (RISE protocol), the pointing game,
 * box from mask and localisation error, the saliency metric of Dabkowski & Gal,
 * and graph-cut boxes (Simonyan et al.).
 *
 * @packageDocumentation
 * @module @saliency/metrics
 */
export { iou, type Box } from './box.js';
export {
  insertionDeletion,
  type InsertionDeletionOptions, type BlurSettings, type InsertionDeletionCurves, type InsertionDeletionResult,
} from './insertion_deletion.js';
export {
  pointingGame, pointingHit,
  type PointingEntry, type PointingClassResult, type PointingGameResult, type PointingGameOptions,
  type PointingSubsetResult, type PointingHitResult, type PixelPoint,
} from './pointing_game.js';
export { boxFromMask, type BoxFromMaskOptions } from './box_from_mask.js';
export { localisationError, type LocalisationOptions, type LocalisationResult } from './localisation.js';
export {
  saliencyMetric, saliencyMetricBoxes, SALIENCY_METRIC_MIN_AREA,
  type SaliencyMetricResult, type SaliencyMetricOptions, type SaliencyMetricBoxesOptions,
} from './saliency_metric.js';
export { graphCutBox, type GraphCutOptions } from './graph_cut.js';
