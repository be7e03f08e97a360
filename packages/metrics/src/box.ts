import { SaliencyError } from '@saliency/core/base';

/**
 * An axis-aligned box in pixel coordinates, top-left origin: it covers
 * `[x, x + width] × [y, y + height]` (floats allowed). A box made from pixels
 * (as {@link boxFromMask} makes them) covers whole pixels: pixel column `j`
 * spans `[j, j + 1)`, so columns 2…5 give `x = 2, width = 4`.
 *
 * @example
 * ```ts
 * const face: Box = { x: 181, y: 73, width: 83, height: 102 };
 * ```
 */
export interface Box {
  /** Left edge in pixels. */
  x: number;
  /** Top edge in pixels. */
  y: number;
  /** Width in pixels, ≥ 0. */
  width: number;
  /** Height in pixels, ≥ 0. */
  height: number;
}

/** Throws `BAD_OPTION` unless `b` is a box with finite coordinates and a non-negative size. */
export function checkBox(b: Box, what: string): Box {
  const ok = b != null && typeof b === 'object'
    && [b.x, b.y, b.width, b.height].every((v) => typeof v === 'number' && Number.isFinite(v))
    && b.width >= 0 && b.height >= 0;
  if (!ok) {
    throw new SaliencyError('BAD_OPTION', `${what} must be a box {x, y, width, height} with finite numbers and width, height ≥ 0; got ${JSON.stringify(b)}.`);
  }
  return b;
}

/** Area of a box. */
export function boxArea(b: Box): number {
  return b.width * b.height;
}

/**
 * Intersection over union of two boxes, as areas of the continuous rectangles
 * `[x, x + width] × [y, y + height]`. Two boxes of zero area give 0.
 *
 * @throws SaliencyError `BAD_OPTION` for a box with a non-finite coordinate or a negative size.
 *
 * @example
 * ```ts
 * iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 }); // 50 / 150 = 1/3
 * ```
 */
export function iou(a: Box, b: Box): number {
  checkBox(a, 'iou: a');
  checkBox(b, 'iou: b');
  const iw = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const ih = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = iw * ih;
  const union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** Euclidean distance from the point `(px, py)` to the closed rectangle of `b` (0 inside or on the edge). */
export function distanceToBox(px: number, py: number, b: Box): number {
  const dx = Math.max(b.x - px, 0, px - (b.x + b.width));
  const dy = Math.max(b.y - py, 0, py - (b.y + b.height));
  return Math.hypot(dx, dy);
}
