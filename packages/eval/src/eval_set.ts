import type { Box } from '@saliency/metrics';
import type { DecodedImage } from '@saliency/node';

/** The evaluation sets `saliency eval --set` knows. */
export const EVAL_SET_NAMES = ['generated', 'faces', 'photos'] as const;
/** One of {@link EVAL_SET_NAMES}. */
export type EvalSetName = (typeof EVAL_SET_NAMES)[number];

/** Which bundled classifier a set is evaluated with. */
export type EvalModelName = 'digits' | 'face' | 'mobilenet';

/** One image of an evaluation set with its ground truth. */
export interface EvalItem {
  /** Stable identifier (used to resume an interrupted run). */
  id: string;
  /** RGB pixels, 0–255. */
  image: DecodedImage;
  /** The image file, for items read from disk (datasets): worker processes read it from there. */
  path?: string;
  /** Class to explain, or `'top'` for the model's own top class on the image. */
  target: number | 'top';
  /** Ground-truth boxes of the target (pixels of `image`); empty when the set has none. */
  boxes: Box[];
  /** The design's "difficult" flag: every box covers < 1/4 of the image, or a distractor is present. */
  difficult: boolean;
  /** Pointing-game tolerance in pixels of `image`: 15 px at 224 px, scaled with the image's shorter side. */
  tolerance: number;
}

/** An evaluation set: its images, the classifier it is evaluated with and the metrics that apply. */
export interface EvalSet {
  /** Set name (`dataset` for a dataset read from disk). */
  name: EvalSetName | 'dataset';
  /** Which bundled classifier explains it (`custom`: the classifier given with the set, see `EvalOptions.dataset`). */
  model: EvalModelName | 'custom';
  /** What the set is, for the report. */
  description: string;
  /** The images. */
  items: EvalItem[];
  /** Whether the set has boxes for the pointing game. */
  pointing: boolean;
  /** Whether localisation error (box from mask vs ground-truth box, IoU ≥ 0.5) is meaningful. */
  localisation: boolean;
}

/** Sizes of a set: the small split runs in CI and `npm run eval`, the large one for the report. */
export type EvalSplit = 'small' | 'large';

/** The design's "difficult" rule for one image: all boxes < 1/4 of the image or a distractor present. */
export function isDifficult(boxes: readonly Box[], width: number, height: number, hasDistractor: boolean): boolean {
  return hasDistractor || boxes.every((b) => b.width * b.height < (width * height) / 4);
}

/** The pointing game's 15-px tolerance (at 224 px, the protocol's image size) scaled to an image. */
export function scaledTolerance(width: number, height: number): number {
  return (15 * Math.min(width, height)) / 224;
}
