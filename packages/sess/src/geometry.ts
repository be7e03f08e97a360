/**
 * SESS steps 1 and 2 (design.md §4): the scales, the scaled image sizes and the
 * sliding windows. Pure arithmetic on JS numbers; no tensors.
 * @module
 */
import { SaliencyError } from '@saliency/core/base';

/** One window of SESS: where a patch lies in one scaled copy of the image. */
export interface SessPatch {
  /** Index into the scale list. */
  readonly scaleIndex: number;
  /** The scale: the shorter side of the scaled image, in pixels. */
  readonly scale: number;
  /** Size `[height, width]` of the scaled image the patch is cut from. */
  readonly scaledSize: readonly [number, number];
  /** Row of the window's top-left corner in the scaled image. */
  readonly top: number;
  /** Column of the window's top-left corner in the scaled image. */
  readonly left: number;
  /** Window size `[height, width]`. */
  readonly window: readonly [number, number];
}

/** The patch geometry of {@link sessPatches}. */
export interface SessGeometry {
  /** Shorter sides of the scaled images, in pixels, each ≥ the larger window side. */
  readonly scales: readonly number[];
  /** Window `[height, width]` (default: the model's input size). */
  readonly window: readonly [number, number];
  /** Step `[down, across]` between windows (default: the window). */
  readonly step: readonly [number, number];
}

function positiveInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new SaliencyError('BAD_OPTION', `${what} must be a positive integer, got ${String(v)}.`);
  }
  return v;
}

/**
 * The reference's scales for `count` levels: `round(side · (1 + 2i/7))` for
 * i = 0…count−1. For a 224 window this is 224 + 64·i (224…928 at 12 levels);
 * for other windows it keeps the same geometry (largest ≈ 4.14 · side).
 *
 * @param side - the window side (the model's input side; for a non-square
 *   window, its LARGER side, so every scaled image holds at least one window).
 * @param count - number of scales, ≥ 1.
 * @returns `count` scales, ascending.
 * @throws SaliencyError `BAD_OPTION` for a non-positive-integer side or count.
 *
 * @example
 * ```ts
 * sessScales(224, 12); // [224, 288, 352, …, 928]
 * sessScales(112, 3);  // [112, 144, 176]
 * ```
 */
export function sessScales(side: number, count: number): number[] {
  positiveInt(side, 'sessScales: side');
  positiveInt(count, 'scales (a count)');
  return Array.from({ length: count }, (_, i) => Math.round(side * (1 + (2 * i) / 7)));
}

/**
 * Size of an image whose SHORTER side is resized to `scale`, keeping the
 * aspect ratio. The longer side is `floor(scale · long / short)`, as
 * torchvision's `Resize(int)` computes it (the reference implementation uses
 * that transform); a square image becomes `scale × scale`.
 *
 * @param height - image height, ≥ 1.
 * @param width - image width, ≥ 1.
 * @param scale - the new shorter side, ≥ 1.
 * @returns `[height, width]` after scaling.
 *
 * @example
 * ```ts
 * scaledSize(375, 500, 224); // [224, 298]
 * scaledSize(500, 375, 288); // [384, 288]
 * ```
 */
export function scaledSize(height: number, width: number, scale: number): [number, number] {
  positiveInt(height, 'scaledSize: height');
  positiveInt(width, 'scaledSize: width');
  positiveInt(scale, 'scaledSize: scale');
  if (height === width) return [scale, scale];
  // scale·long is an exact integer and the division is correctly rounded, so floor is exact.
  return height < width ? [scale, Math.floor((scale * width) / height)] : [Math.floor((scale * height) / width), scale];
}

/**
 * Window starts along one axis: 0, step, 2·step, … while the window still ends
 * before the edge, then one last window snapped to the edge (`length − window`),
 * which may overlap its neighbour. Equals the reference's `sliding_window`
 * for steps up to the window; with a longer step the reference can stop before
 * the edge, while this always ends with a window at the edge.
 * The count is `ceil((length − window) / step) + 1`.
 *
 * @param length - the axis length, ≥ `window`.
 * @param window - the window length, ≥ 1.
 * @param step - the step, ≥ 1.
 * @returns the starts, ascending.
 * @throws SaliencyError `BAD_OPTION` when the window is longer than the axis.
 *
 * @example
 * ```ts
 * windowStarts(928, 224, 224); // [0, 224, 448, 672, 704]
 * windowStarts(224, 224, 224); // [0]
 * ```
 */
export function windowStarts(length: number, window: number, step: number): number[] {
  positiveInt(length, 'windowStarts: length');
  positiveInt(window, 'window');
  positiveInt(step, 'step');
  if (window > length) {
    throw new SaliencyError('BAD_OPTION', `A ${window}-pixel window does not fit in ${length} pixels: every scale must be at least the window side.`);
  }
  const starts: number[] = [];
  let x = 0;
  for (; x + window < length; x += step) starts.push(x);
  starts.push(length - window);
  return starts;
}

/**
 * Every SESS patch of an image, scale by scale (ascending), and within a
 * scale top→bottom, left→right.
 *
 * @param imageSize - the input image `[height, width]`.
 * @param geometry - scales, window and step.
 * @returns the patches in that order.
 * @throws SaliencyError `BAD_OPTION` when a scaled image is smaller than the window.
 *
 * @example
 * ```ts
 * const square = sessPatches([224, 224], { scales: sessScales(224, 12), window: [224, 224], step: [224, 224] });
 * square.length; // 122
 * ```
 */
export function sessPatches(imageSize: readonly [number, number], geometry: SessGeometry): SessPatch[] {
  const [h, w] = imageSize;
  const patches: SessPatch[] = [];
  geometry.scales.forEach((scale, scaleIndex) => {
    const scaled = scaledSize(h, w, scale);
    const rows = windowStarts(scaled[0], geometry.window[0], geometry.step[0]);
    const cols = windowStarts(scaled[1], geometry.window[1], geometry.step[1]);
    for (const top of rows) {
      for (const left of cols) patches.push({ scaleIndex, scale, scaledSize: scaled, top, left, window: geometry.window });
    }
  });
  return patches;
}
