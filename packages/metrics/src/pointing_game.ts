import type * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '@saliency/core/base';
import { checkBox, distanceToBox, type Box } from './box.js';
import { readMap } from './read_map.js';

/** One image of the pointing game: its map for one class and that class's ground-truth boxes. */
export interface PointingEntry {
  /** Saliency map `[H, W]` for `classId`, in the boxes' pixel coordinates. */
  map: tf.Tensor2D;
  /** Ground-truth boxes of `classId` in this image (at least one). */
  boxes: readonly Box[];
  /** The class the map explains. */
  classId: number;
  /**
   * Whether the entry belongs to the "difficult" subset (Zhang et al.: the
   * class's boxes cover less than 1/4 of the image and the image holds another,
   * distractor class). The caller decides; absent means not difficult.
   */
  difficult?: boolean;
}

/** Hits of one class. */
export interface PointingClassResult {
  /** Entries whose map's peak hit a box. */
  hits: number;
  /** Entries of the class. */
  total: number;
  /** `hits / total`. */
  accuracy: number;
}

/** Pointing-game scores of a subset of the entries. */
export interface PointingSubsetResult {
  /** Per class id (only the classes present in the subset). */
  perClass: Record<number, PointingClassResult>;
  /** Mean over those classes of the per-class accuracy; NaN for an empty subset. */
  mean: number;
  /** Entries in the subset. */
  count: number;
}

/** Result of {@link pointingGame}. */
export interface PointingGameResult {
  /** Per class id. */
  perClass: Record<number, PointingClassResult>;
  /** Mean over classes of the per-class accuracy (Zhang et al.'s protocol), not the overall hit rate. */
  mean: number;
  /** The same on the entries marked `difficult`. */
  difficult: PointingSubsetResult;
}

/** A pixel position: column `x`, row `y` (0-based). */
export interface PixelPoint {
  /** Column. */
  x: number;
  /** Row. */
  y: number;
}

/** Result of {@link pointingHit}. */
export interface PointingHitResult {
  /** Whether the peak lies within the tolerance of a box. */
  hit: boolean;
  /** The map's maximum (the first in row-major order when tied). */
  peak: PixelPoint;
}

/** Options of {@link pointingGame}. */
export interface PointingGameOptions {
  /** Tolerance radius in pixels (default 15, as Zhang et al.); ≥ 0. */
  tolerance?: number;
}

function checkTolerance(tolerance: number, fn: string): number {
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0) {
    throw new SaliencyError('BAD_OPTION', `${fn}: tolerance must be a finite number of pixels ≥ 0 (default 15); got ${String(tolerance)}.`);
  }
  return tolerance;
}

function checkBoxes(boxes: readonly Box[], fn: string): void {
  if (!Array.isArray(boxes) || boxes.length === 0) {
    throw new SaliencyError('BAD_OPTION', `${fn}: boxes must be a non-empty array of ground-truth boxes; got ${JSON.stringify(boxes)}.`);
  }
  boxes.forEach((b, i) => checkBox(b, `${fn}: boxes[${i}]`));
}

/**
 * One trial of the pointing game (Zhang et al., "Top-down neural attention by
 * excitation backprop", ECCV 2016): the peak is the map's maximum (the first in
 * row-major order when several pixels share it); it is a hit when the peak
 * pixel's CENTRE `(x + 0.5, y + 0.5)` lies within `tolerance` pixels
 * (Euclidean distance to the rectangle, ≤) of at least one box. With integer
 * boxes this counts the same pixels as dilating the box's pixels by the
 * tolerance disk, up to the half pixel.
 *
 * @param map - `[H, W]` saliency map.
 * @param boxes - ground-truth boxes (at least one) in the map's pixel coordinates.
 * @param tolerance - radius in pixels, default 15.
 * @returns whether it hit, and the peak's pixel column `x` and row `y`.
 * @throws SaliencyError `BAD_RANK`, `IMAGE_TOO_SMALL`, `NON_FINITE_INPUT`, `BAD_OPTION`.
 *
 * @example
 * ```ts
 * const { hit, peak } = await pointingHit(map, [{ x: 40, y: 30, width: 50, height: 60 }]);
 * ```
 */
export async function pointingHit(map: tf.Tensor2D, boxes: readonly Box[], tolerance = 15): Promise<PointingHitResult> {
  const fn = 'pointingHit';
  checkTolerance(tolerance, fn);
  checkBoxes(boxes, fn);
  const { values, w } = await readMap(map, fn);
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  const y = Math.floor(best / w), x = best - y * w;
  const hit = boxes.some((b) => distanceToBox(x + 0.5, y + 0.5, b) <= tolerance);
  return { hit, peak: { x, y } };
}

function summarise(results: { classId: number; hit: boolean }[]): { perClass: Record<number, PointingClassResult>; mean: number } {
  const perClass: Record<number, PointingClassResult> = {};
  for (const r of results) {
    const c = (perClass[r.classId] ??= { hits: 0, total: 0, accuracy: 0 });
    c.total += 1;
    if (r.hit) c.hits += 1;
  }
  const classes = Object.values(perClass);
  for (const c of classes) c.accuracy = c.hits / c.total;
  const mean = classes.length === 0 ? Number.NaN : classes.reduce((a, c) => a + c.accuracy, 0) / classes.length;
  return { perClass, mean };
}

/**
 * The pointing game over a data set: {@link pointingHit} per entry, then the
 * accuracy per class and their MEAN OVER CLASSES (Zhang et al.'s protocol: each
 * class counts once, however many images it has), and the same on the
 * entries marked `difficult`. Maps are read one at a time.
 *
 * @param entries - one per (image, class) pair; at least one.
 * @param opts - `tolerance` in pixels, default 15.
 * @throws SaliencyError `BAD_OPTION` (no entries, a bad class id or box), and the codes of {@link pointingHit}.
 *
 * @example
 * ```ts
 * const r = await pointingGame(images.map((im) => ({ map: im.map, boxes: im.boxes, classId: im.label, difficult: im.small })));
 * console.log(r.mean, r.difficult.mean);
 * ```
 */
export async function pointingGame(entries: readonly PointingEntry[], opts: PointingGameOptions = {}): Promise<PointingGameResult> {
  const fn = 'pointingGame';
  const tolerance = checkTolerance(opts.tolerance ?? 15, fn);
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new SaliencyError('BAD_OPTION', `${fn}: entries must be a non-empty array of {map, boxes, classId}.`);
  }
  entries.forEach((e, i) => {
    if (!Number.isInteger(e?.classId) || e.classId < 0) {
      throw new SaliencyError('BAD_OPTION', `${fn}: entries[${i}].classId must be a non-negative integer; got ${String(e?.classId)}.`);
    }
    checkBoxes(e.boxes, `${fn}: entries[${i}]`);
  });
  const results: { classId: number; hit: boolean; difficult: boolean }[] = [];
  for (const e of entries) {
    const { hit } = await pointingHit(e.map, e.boxes, tolerance);
    results.push({ classId: e.classId, hit, difficult: e.difficult === true });
  }
  const hard = results.filter((r) => r.difficult);
  return { ...summarise(results), difficult: { ...summarise(hard), count: hard.length } };
}
