/**
 * The options of {@link sess}, their reference defaults and their validation.
 * @module
 */
import { checkPositiveInt, SaliencyError, type GaussianBlurOptions, type LongRunningOptions, type Targets } from '@saliency/core/base';
import { fusionOptions, type SessPool } from './fusion.js';
import { prefilterDropCount } from './prefilter.js';
import { sessScales, type SessGeometry } from './geometry.js';

/** A side in pixels, or `[height, width]`. */
export type SessSize = number | readonly [number, number];

/** Options of {@link sess}; the defaults are the reference's (design.md §4). */
export interface SessOptions extends LongRunningOptions {
  /**
   * How many scales (default 12: `round(w · (1 + 2i/7))`, i.e. 224…928 for a
   * 224 model), or the explicit list of shorter sides in pixels, each at least
   * the window's larger side.
   */
  scales?: number | readonly number[];
  /**
   * Window size (default: the model's input size). A window other than the
   * input size is resized to the input for the model and its map resized back.
   */
  window?: SessSize;
  /** Step between windows (default: the window, i.e. no overlap but at the snapped edges). */
  step?: SessSize;
  /**
   * Fraction of patches dropped by the pre-filter, in [0, 1) (default 0):
   * the lowest `floor(N · r)` scores go (the reference's `int(N · r)`).
   */
  preFilterRatio?: number;
  /** Mean-pool threshold θ in [0, 1) (default 0): only values > θ are averaged. */
  theta?: number;
  /** `'mean'` (default) or `'max'` pooling of the resized patch canvases. */
  pool?: SessPool;
  /**
   * Gaussian smoothing of the fused map: `{ kernelSize: 11, sigma: 5 }` by
   * default (the reference's display setting); `false` turns it off (the
   * paper's quantitative protocol).
   */
  smooth?: GaussianBlurOptions | boolean;
  /**
   * Patches per forward pass of the pre-filter and per call of the base
   * method (default 16). The base method may split a call further with its
   * own `batchSize` (Grad-CAM: 8 per backward pass).
   */
  batchSize?: number;
  /**
   * Class to explain, overriding the `targets` given to `explain` (default:
   * use those; `'top'` = argmax on the whole image resized to the model input).
   */
  target?: Targets;
}

/** {@link SessOptions} checked, with the defaults filled in (window-dependent parts stay relative). */
export interface ResolvedSessOptions {
  scales: number | readonly number[];
  window: readonly [number, number] | null;
  step: readonly [number, number] | null;
  preFilterRatio: number;
  theta: number;
  pool: SessPool;
  smooth: GaussianBlurOptions | null;
  batchSize: number;
  target: Targets | undefined;
}

function size(v: SessSize | undefined, what: string): readonly [number, number] | null {
  if (v == null) return null;
  const pair = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(pair) || pair.length !== 2) {
    throw new SaliencyError('BAD_OPTION', `${what} must be a positive integer or [height, width]; got ${String(v)}.`);
  }
  return [checkPositiveInt(pair[0], `${what}[0]`), checkPositiveInt(pair[1], `${what}[1]`)];
}

/** Validates {@link SessOptions} up front (throws `BAD_OPTION`), before any image is seen. */
export function resolveSessOptions(opts: SessOptions): ResolvedSessOptions {
  const scales = opts.scales ?? 12;
  if (typeof scales === 'number') {
    checkPositiveInt(scales, 'scales (a count)');
  } else if (!Array.isArray(scales) || scales.length === 0) {
    throw new SaliencyError('BAD_OPTION', 'scales must be a count or a non-empty list of shorter sides in pixels.');
  } else {
    scales.forEach((s, i) => checkPositiveInt(s, `scales[${i}]`));
  }
  const preFilterRatio = opts.preFilterRatio ?? 0;
  prefilterDropCount(1, preFilterRatio);
  const { pool, theta } = fusionOptions({ pool: opts.pool, theta: opts.theta });
  let smooth: GaussianBlurOptions | null = null;
  if (opts.smooth === true || opts.smooth == null) smooth = { kernelSize: 11, sigma: 5 };
  else if (opts.smooth !== false) {
    const { kernelSize, sigma } = opts.smooth;
    if (!Number.isInteger(kernelSize) || kernelSize < 1 || kernelSize % 2 === 0) {
      throw new SaliencyError('BAD_OPTION', `smooth.kernelSize must be an odd positive integer; got ${String(kernelSize)}.`);
    }
    if (typeof sigma !== 'number' || !(sigma > 0) || !Number.isFinite(sigma)) {
      throw new SaliencyError('BAD_OPTION', `smooth.sigma must be a finite number > 0; got ${String(sigma)}.`);
    }
    smooth = { kernelSize, sigma };
  }
  return {
    scales,
    window: size(opts.window, 'window'),
    step: size(opts.step, 'step'),
    preFilterRatio,
    theta,
    pool,
    smooth,
    batchSize: checkPositiveInt(opts.batchSize ?? 16, 'batchSize'),
    target: opts.target,
  };
}

/**
 * The geometry for a classifier: the window defaults to its input size, the
 * step to the window, a scale count becomes {@link sessScales} of the
 * window's larger side. Throws `BAD_OPTION` when a listed scale is below it.
 */
export function geometryFor(o: ResolvedSessOptions, inputSize: readonly [number, number]): SessGeometry {
  const window = o.window ?? [inputSize[0], inputSize[1]];
  const side = Math.max(window[0], window[1]);
  const scales = typeof o.scales === 'number' ? sessScales(side, o.scales) : [...o.scales];
  for (const s of scales) {
    if (s < side) {
      throw new SaliencyError('BAD_OPTION', `Scale ${s} is smaller than the ${window[0]}×${window[1]} window: every scale (shorter side) must be at least ${side}.`);
    }
  }
  return { scales, window, step: o.step ?? window };
}
