import * as tf from '@tensorflow/tfjs-core';
import { checkPositiveInt, resizeMaps, SaliencyError } from '@saliency/core/base';
import type { Box } from './box.js';
import { largestComponentBox } from './connected_components.js';
import { loadOpenCv, type CvMat } from './opencv.js';
import { checkImage3d, checkMap, readMap } from './read_map.js';

/** Options of {@link graphCutBox}. */
export interface GraphCutOptions {
  /** Pixels with map value ≥ this quantile of the map are foreground seeds (default 0.95). */
  foregroundQuantile?: number;
  /** Pixels with map value ≤ this quantile are background seeds (default 0.3). */
  backgroundQuantile?: number;
  /**
   * Graph cuts (default 1). The first cut uses the colour models estimated from
   * the seeds alone (Simonyan et al.); each further one is a GrabCut round that
   * re-estimates the models from the current labelling and cuts again
   * (Rother et al.'s iterative refinement).
   */
  iterations?: number;
  /**
   * Make the seeds hard constraints of the cut (`GC_FGD` / `GC_BGD`) instead
   * of only the data of the colour models (default `false`). Measured on a
   * noisy map (tests/metrics/graph_cut.test.ts): hard background seeds inside
   * the object split it, and the box shrinks.
   */
  hardSeeds?: boolean;
  /**
   * The image's pixel range, mapped to 0–255 for OpenCV. `'auto'` (default):
   * `[0, 1]` when every value lies in [0, 1], else `[0, 255]`.
   */
  inputRange?: readonly [number, number] | 'auto';
}

/** Fewest seeds of each kind: OpenCV's colour models are 5-component Gaussian mixtures fitted by k-means. */
const MIN_SEEDS = 5;

/** The `q`-quantile of `values` with linear interpolation between order statistics (NumPy's default). */
function quantile(sorted: Float32Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos), hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

function checkQuantile(q: number, name: string): number {
  if (typeof q !== 'number' || !(q > 0 && q < 1)) {
    throw new SaliencyError('BAD_OPTION', `graphCutBox: ${name} must be in (0, 1); got ${String(q)}.`);
  }
  return q;
}

/**
 * Weakly supervised localisation after Simonyan, Vedaldi & Zisserman (2014, §3.2): a saliency
 * map seeds a colour-model graph cut, whose foreground gives the box.
 *
 * - Seeds: map ≥ its `foregroundQuantile` (default 95 %) quantile →
 *   foreground; ≤ its `backgroundQuantile` (default 30 %) quantile → background.
 * - Colour models: OpenCV's GrabCut Gaussian mixtures (5 components each)
 *   fitted to the seed pixels ALONE (`cv.grabCut` with `GC_INIT_WITH_MASK` and
 *   0 iterations on the seeds), as Simonyan et al. estimate them.
 * - Cut: one graph cut of the whole image with those models frozen
 *   (`GC_EVAL_FREEZE_MODEL`; 8-neighbour contrast-sensitive smoothness); every
 *   pixel, seeds included, is labelled by the cut unless `hardSeeds`. With
 *   `iterations` > 1, further GrabCut rounds (`GC_EVAL`) re-fit the models to
 *   the labelling and cut again.
 * - The largest 8-connected component of the foreground; its bounding box in
 *   whole pixels.
 *
 * The image is converted to 8-bit RGB. A map with no spread (the foreground
 * quantile not above the background one, e.g. a constant map) gives `null`.
 * Runs on the CPU in OpenCV's wasm build, loaded on first use.
 *
 * @param image - `[H, W, 3]` (or `[H, W, 1]`, replicated) in the user's pixel range.
 * @param map - `[h, w]` saliency map (resized to H×W when not that size).
 * @param opts - see {@link GraphCutOptions}.
 * @returns the box in image pixels, or `null`.
 * @throws SaliencyError `BAD_OPTION`, `BAD_RANK`, `BAD_CHANNELS`, `IMAGE_TOO_SMALL`
 *   (fewer than 5 seeds of a kind), `NON_FINITE_INPUT`, `BACKEND_UNAVAILABLE` (OpenCV.js missing).
 *
 * @example
 * ```ts
 * const box = await graphCutBox(image, map);
 * if (box) console.log(iou(box, groundTruth));
 * ```
 */
export async function graphCutBox(image: tf.Tensor3D, map: tf.Tensor2D, opts: GraphCutOptions = {}): Promise<Box | null> {
  const fn = 'graphCutBox';
  const qf = checkQuantile(opts.foregroundQuantile ?? 0.95, 'foregroundQuantile');
  const qb = checkQuantile(opts.backgroundQuantile ?? 0.3, 'backgroundQuantile');
  if (!(qb < qf)) throw new SaliencyError('BAD_OPTION', `${fn}: backgroundQuantile (${qb}) must be below foregroundQuantile (${qf}).`);
  const iterations = checkPositiveInt(opts.iterations ?? 1, `${fn}: iterations`);
  const range = opts.inputRange ?? 'auto';
  if (range !== 'auto' && !(Array.isArray(range) && range.length === 2 && Number.isFinite(range[0]) && Number.isFinite(range[1]) && range[1] > range[0])) {
    throw new SaliencyError('BAD_OPTION', `${fn}: inputRange must be 'auto' or [lo, hi] with lo < hi; got ${JSON.stringify(range)}.`);
  }
  checkMap(map, fn);
  const [h, w, c] = await checkImage3d(image, null, fn);
  if (c !== 3 && c !== 1) throw new SaliencyError('BAD_CHANNELS', `${fn}: the image needs 3 (RGB) or 1 channel(s); it has ${c}. Drop the alpha channel.`);

  const sized = map.shape[0] === h && map.shape[1] === w
    ? tf.clone(map)
    : tf.tidy(() => tf.squeeze(resizeMaps(tf.expandDims(map, 0) as tf.Tensor3D, [h, w]), [0]) as tf.Tensor2D);
  let values: Float32Array;
  try {
    values = (await readMap(sized, fn)).values;
  } finally {
    sized.dispose();
  }
  const sorted = Float32Array.from(values).sort();
  const vf = quantile(sorted, qf), vb = quantile(sorted, qb);
  if (!(vf > vb)) return null;

  const pixels = (await image.data()) as Float32Array | Int32Array | Uint8Array;
  let [lo, hi] = range === 'auto' ? [0, 1] : range;
  if (range === 'auto') for (let i = 0; i < pixels.length; i++) if (pixels[i] < 0 || pixels[i] > 1) { [lo, hi] = [0, 255]; break; }
  const rgb = new Uint8Array(h * w * 3);
  const scale = 255 / (hi - lo);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) {
      const v = Math.round((pixels[p * c + (c === 3 ? k : 0)] - lo) * scale);
      rgb[p * 3 + k] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }

  let nf = 0, nb = 0;
  for (const v of values) { if (v >= vf) nf++; else if (v <= vb) nb++; }
  if (nf < MIN_SEEDS || nb < MIN_SEEDS) {
    throw new SaliencyError('IMAGE_TOO_SMALL', `${fn}: the map gives ${nf} foreground and ${nb} background seed(s); the colour models need at least ${MIN_SEEDS} of each. Use a larger image.`);
  }

  const { cv } = await loadOpenCv();
  const mats: CvMat[] = [];
  const track = (m: CvMat): CvMat => { mats.push(m); return m; };
  try {
    // 1. colour models from the seed pixels alone: a 1×n image of the seeds, 0 iterations
    const seedRgb = new Uint8Array((nf + nb) * 3);
    const seedLabels = new Uint8Array(nf + nb);
    let j = 0;
    for (let i = 0; i < h * w; i++) {
      const v = values[i];
      if (v < vf && v > vb) continue;
      seedRgb.set(rgb.subarray(i * 3, i * 3 + 3), j * 3);
      seedLabels[j++] = v >= vf ? cv.GC_FGD : cv.GC_BGD;
    }
    const bgd = track(new cv.Mat());
    const fgd = track(new cv.Mat());
    cv.grabCut(track(cv.matFromArray(1, nf + nb, cv.CV_8UC3, seedRgb)), track(cv.matFromArray(1, nf + nb, cv.CV_8UC1, seedLabels)),
      new cv.Rect(0, 0, nf + nb, 1), bgd, fgd, 0, cv.GC_INIT_WITH_MASK);
    // 2. cut the whole image with the models frozen; then optional GrabCut rounds
    const hard = opts.hardSeeds === true;
    const mid = (vf + vb) / 2;
    const labels = new Uint8Array(h * w);
    for (let i = 0; i < h * w; i++) {
      const v = values[i];
      labels[i] = hard && v >= vf ? cv.GC_FGD : hard && v <= vb ? cv.GC_BGD : v >= mid ? cv.GC_PR_FGD : cv.GC_PR_BGD;
    }
    const img = track(cv.matFromArray(h, w, cv.CV_8UC3, rgb));
    const mask = track(cv.matFromArray(h, w, cv.CV_8UC1, labels));
    const rect = new cv.Rect(0, 0, w, h);
    cv.grabCut(img, mask, rect, bgd, fgd, 1, cv.GC_EVAL_FREEZE_MODEL);
    if (iterations > 1) cv.grabCut(img, mask, rect, bgd, fgd, iterations - 1, cv.GC_EVAL);
    const out = mask.data;
    const fg = new Uint8Array(h * w);
    for (let i = 0; i < h * w; i++) fg[i] = out[i] === cv.GC_FGD || out[i] === cv.GC_PR_FGD ? 1 : 0;
    return largestComponentBox(fg, h, w);
  } finally {
    for (const m of mats) m.delete();
  }
}
