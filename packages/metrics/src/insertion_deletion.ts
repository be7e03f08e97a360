import * as tf from '@tensorflow/tfjs-core';
import {
  checkPositiveInt, gaussianBlur, modelZeroColour, resizeBilinear, resizeMaps, throwIfAborted, yieldToEventLoop,
  SaliencyError, type Classifier, type LongRunningOptions,
} from '@saliency/core/base';
import { checkImage3d, checkMap, checkTarget, readMap } from './read_map.js';

/** A Gaussian blur: odd kernel side and standard deviation, in pixels. */
export interface BlurSettings {
  /** Odd kernel side ≥ 1 (e.g. 11). */
  kernel: number;
  /** Standard deviation > 0 (e.g. 5). */
  sigma: number;
}

/** Options of {@link insertionDeletion}. */
export interface InsertionDeletionOptions extends LongRunningOptions {
  /**
   * Named settings (default `'rise'`):
   * - `'rise'`: insertion starts from a Gaussian blur with kernel 11, σ 5; `step` = H (RISE's evaluation notebook);
   * - `'groupcam'`: kernel 51, σ 50; `step` = 2·H (Group-CAM's evaluation).
   *
   * H is the classifier's input height.
   */
  preset?: 'rise' | 'groupcam';
  /** Pixels changed per iteration (all channels of each); overrides the preset. */
  step?: number;
  /**
   * What deleted pixels become. `'zero'` (default): zero in the model's
   * normalised space, i.e. the user-range colour that the classifier's
   * preprocessing maps to 0 (RISE's `torch.zeros_like` on the normalised
   * tensor); or one value per channel in the user's pixel range.
   */
  substrate?: 'zero' | readonly number[];
  /** The insertion start's Gaussian blur (odd kernel side, σ > 0); overrides the preset. */
  blur?: BlurSettings;
  /** Curve images per forward pass (default 16); peak memory is bounded by it. */
  batchSize?: number;
}

/** The two curves of {@link insertionDeletion}, one point per iteration. */
export interface InsertionDeletionCurves {
  /** Fraction of the pixels changed at each point: `min(k·step, H·W) / (H·W)`, k = 0…ceil(H·W/step). */
  fractions: number[];
  /** Target probability as pixels are inserted into the blurred image. */
  insertion: number[];
  /** Target probability as pixels are deleted (set to the substrate). */
  deletion: number[];
}

/** Result of {@link insertionDeletion}: the areas under the curves and the curves. */
export interface InsertionDeletionResult {
  /** Area under the insertion curve, in [0, 1]; higher is better. */
  insertion: number;
  /** Area under the deletion curve, in [0, 1]; lower is better. */
  deletion: number;
  /** `insertion − deletion`. */
  overall: number;
  /** The curves, for plotting. */
  curves: InsertionDeletionCurves;
}

const PRESETS = {
  rise: { kernel: 11, sigma: 5, stepRows: 1 },
  groupcam: { kernel: 51, sigma: 50, stepRows: 2 },
} as const;

/**
 * Trapezoidal area under `ys` over `xs` (xs ascending from 0 to 1, so the area
 * is already normalised to [0, 1] for probabilities).
 */
function trapezoid(xs: readonly number[], ys: readonly number[]): number {
  let s = 0;
  for (let i = 1; i < xs.length; i++) s += ((xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1])) / 2;
  return s;
}

interface Settings {
  step: number;
  blur: BlurSettings;
  batchSize: number;
  substrate: 'zero' | readonly number[];
}

function checkOptions(opts: InsertionDeletionOptions, height: number): Settings {
  const preset = opts.preset ?? 'rise';
  if (preset !== 'rise' && preset !== 'groupcam') {
    throw new SaliencyError('BAD_OPTION', `insertionDeletion: preset must be 'rise' or 'groupcam'; got ${JSON.stringify(preset)}.`);
  }
  const p = PRESETS[preset];
  const step = checkPositiveInt(opts.step ?? p.stepRows * height, 'insertionDeletion: step');
  const blur = opts.blur ?? { kernel: p.kernel, sigma: p.sigma };
  if (blur == null || typeof blur !== 'object') {
    throw new SaliencyError('BAD_OPTION', `insertionDeletion: blur must be {kernel, sigma}; got ${JSON.stringify(blur)}.`);
  }
  if (!(Number.isInteger(blur.kernel) && blur.kernel >= 1 && blur.kernel % 2 === 1 && typeof blur.sigma === 'number' && Number.isFinite(blur.sigma) && blur.sigma > 0)) {
    throw new SaliencyError('BAD_OPTION', `insertionDeletion: blur needs an odd integer kernel ≥ 1 and a finite sigma > 0 (e.g. {kernel: 11, sigma: 5}); got ${JSON.stringify(blur)}.`);
  }
  const batchSize = checkPositiveInt(opts.batchSize ?? 16, 'insertionDeletion: batchSize');
  const substrate = opts.substrate ?? 'zero';
  if (substrate !== 'zero' && !(Array.isArray(substrate) && substrate.every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    throw new SaliencyError('BAD_OPTION', `insertionDeletion: substrate must be 'zero' or one finite value per channel in the user's pixel range; got ${JSON.stringify(substrate)}.`);
  }
  return { step, blur, batchSize, substrate };
}

/**
 * Rank of every pixel when ordered by saliency, descending; ties in index
 * order (a stable sort). Returned as float32 (exact up to 2^24 pixels).
 */
function pixelRanks(values: Float32Array): Float32Array {
  const order = Array.from({ length: values.length }, (_, i) => i);
  order.sort((a, b) => values[b] - values[a] || a - b);
  const rank = new Float32Array(values.length);
  for (let r = 0; r < order.length; r++) rank[order[r]] = r;
  return rank;
}

/**
 * Deletion and insertion (Petsiuk, Das & Saenko, RISE, BMVC 2018): how fast
 * the target probability falls as the most salient pixels are deleted, and
 * how fast it rises as they are inserted into a blurred copy.
 *
 * Protocol:
 * - The image and the map are resized (bilinear, half-pixel centres) to the
 *   classifier's input H×W when they are not already that size.
 * - Pixels are ordered by saliency, descending; ties in index order (row-major).
 * - Iteration k = 0…n, n = ceil(H·W / step), changes the first `min(k·step, H·W)`
 *   pixels of that order, all channels: deletion replaces them by the substrate
 *   (default zero in the model's normalised space), insertion replaces the
 *   blurred image's pixels by the original's (blur: core's `gaussianBlur`,
 *   preset `rise` kernel 11 σ 5, `groupcam` 51 σ 50).
 * - Each curve point is the softmax probability of `target`; the curves have
 *   n + 1 points over `fractions` = `min(k·step, H·W) / (H·W)`.
 * - AUC = trapezoidal area over `fractions` (in [0, 1]); `overall = insertion − deletion`.
 *
 * Where this follows RISE's reference (`eclique/RISE`, `evaluation.py`,
 * `CausalMetric` and `auc`, and its `Evaluation.ipynb`): the n + 1 points
 * k = 0…ceil(HW/step); probabilities (its model ends in a softmax); deletion
 * to `torch.zeros_like` of the normalised tensor; insertion from a blur;
 * `auc(arr) = (Σ arr − arr[0]/2 − arr[n]/2) / n`, which is exactly this
 * trapezoid whenever `step` divides H·W (the presets' case: step = H or 2H
 * with W even).
 * Where it differs: (1) when `step` does not divide H·W, RISE still spaces
 * the points 1/n apart although its last step changes fewer pixels; here the
 * x axis is the true fraction of pixels changed. (2) RISE orders by
 * `np.flip(np.argsort(map))`, which puts tied pixels in an
 * implementation-defined order; here ties are broken by index, so the result
 * is deterministic. (3) RISE's blur is `conv2d(x, gkern(11, 5), padding=5)`
 * on the normalised tensor: zero padding (borders fade towards the
 * normalised zero) and a kernel made by `scipy.ndimage.gaussian_filter` of a
 * delta (a σ-5 Gaussian folded back into the 11 taps by scipy's reflect
 * border: weights 0.088…0.094 per axis, nearly a box filter, against
 * 0.066…0.109 for the sampled σ-5 Gaussian used here); here the blur is a normalised sampled Gaussian with reflect-101
 * borders in the user's pixel space (the same as in the normalised space for
 * affine preprocessing, up to the border). (4) The target is given, not the
 * argmax of the original image.
 *
 * The pixel order depends on the map's exact values: nearly equal values
 * (smooth up-sampled maps) swap places under float differences of 1e-7 — the
 * same Grad-CAM map resized on wasm and on cpu reorders ~12 % of the pixels
 * of a 112² face and moves curve points by up to 0.023. Pass maps at the input
 * size to compare backends.
 *
 * Cost: 2·(n + 1) forward passes, in batches of `batchSize` curve images. The
 * images of a batch are built on the backend from the pixel-rank map (pixel
 * changed iff rank < k·step); the only read-backs are the map (once, to rank
 * it) and the probabilities (once, at the end). `onProgress` after every batch
 * (`done`/`total` in curve images, phase `'insertion-deletion'`); `signal`
 * is checked before every batch.
 *
 * @param classifier - the wrapped model.
 * @param image - `[H, W, C]` in the user's pixel range, any size.
 * @param map - `[h, w]` saliency map of `image` (any size; resized to the input size).
 * @param target - the class whose probability is recorded.
 * @param opts - see {@link InsertionDeletionOptions}.
 * @throws SaliencyError `BAD_OPTION`, `BAD_RANK`, `BAD_CHANNELS`, `BAD_TARGET`,
 *   `IMAGE_TOO_SMALL`, `NON_FINITE_INPUT`, `ABORTED`.
 *
 * @example
 * ```ts
 * const maps = await gradCam().explain(classifier, tf.expandDims(image, 0) as tf.Tensor4D, [cls]);
 * const map = tf.squeeze(maps, [0]) as tf.Tensor2D;
 * const { insertion, deletion, overall, curves } = await insertionDeletion(classifier, image, map, cls, { preset: 'rise' });
 * ```
 */
export async function insertionDeletion(
  classifier: Classifier,
  image: tf.Tensor3D,
  map: tf.Tensor2D,
  target: number,
  opts: InsertionDeletionOptions = {},
): Promise<InsertionDeletionResult> {
  const fn = 'insertionDeletion';
  const [H, W] = classifier.inputSize;
  const C = classifier.channels;
  const s = checkOptions(opts, H);
  checkTarget(target, classifier.numClasses, fn);
  checkMap(map, fn);
  await checkImage3d(image, C, fn);
  if (s.substrate !== 'zero' && s.substrate.length !== C) {
    throw new SaliencyError('BAD_OPTION', `${fn}: substrate has ${s.substrate.length} value(s); the classifier takes ${C} channel(s).`);
  }
  const colour = s.substrate === 'zero' ? await modelZeroColour(classifier, fn) : [...s.substrate];

  const sized = map.shape[0] === H && map.shape[1] === W
    ? tf.clone(map)
    : tf.tidy(() => tf.squeeze(resizeMaps(tf.expandDims(map, 0) as tf.Tensor3D, [H, W]), [0]) as tf.Tensor2D);
  let ranks: Float32Array;
  try {
    ranks = pixelRanks((await readMap(sized, fn)).values);
  } finally {
    sized.dispose();
  }

  const hw = H * W;
  const n = Math.ceil(hw / s.step);
  const points = n + 1;
  const total = 2 * points;
  const fractions = Array.from({ length: points }, (_, k) => Math.min(k * s.step, hw) / hw);
  const keep: tf.Tensor[] = [];
  const probs: tf.Tensor1D[] = [];
  try {
    const x = tf.tidy(() => tf.expandDims(resizeBilinear(image, [H, W]), 0) as tf.Tensor4D);
    keep.push(x);
    const blurred = gaussianBlur(x, { kernelSize: s.blur.kernel, sigma: s.blur.sigma });
    keep.push(blurred);
    const rank = tf.tensor2d(ranks, [1, hw]);
    keep.push(rank);
    const substrate = tf.tensor1d(colour, 'float32');
    keep.push(substrate);
    // curve image k of a run: from + (to − from)·[rank < k·step]
    const curveImages = (from: tf.Tensor4D, to: tf.Tensor4D | tf.Tensor1D, ks: number[]): tf.Tensor4D => tf.tidy(() => {
      const thresholds = tf.tensor2d(ks.map((k) => k * s.step), [ks.length, 1]);
      const changed = tf.reshape(tf.cast(tf.less(rank, thresholds), 'float32'), [ks.length, H, W, 1]);
      return tf.add(from, tf.mul(tf.sub(to, from), changed)) as tf.Tensor4D;
    });
    for (let start = 0; start < total; start += s.batchSize) {
      throwIfAborted(opts.signal);
      const size = Math.min(s.batchSize, total - start);
      // curve images [0, points) are insertion k = 0…n, [points, 2·points) deletion k = 0…n
      const ins: number[] = [], del: number[] = [];
      for (let j = start; j < start + size; j++) {
        if (j < points) ins.push(j);
        else del.push(j - points);
      }
      probs.push(tf.tidy(() => {
        const parts: tf.Tensor4D[] = [];
        if (ins.length > 0) parts.push(curveImages(blurred, x, ins));
        if (del.length > 0) parts.push(curveImages(x, substrate, del));
        const batch = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
        return tf.reshape(tf.slice(classifier.probabilities(batch), [0, target], [size, 1]), [size]) as tf.Tensor1D;
      }));
      opts.onProgress?.({ done: start + size, total, phase: 'insertion-deletion' });
      if (start + size < total) await yieldToEventLoop();
    }
    throwIfAborted(opts.signal);
    const all = tf.concat(probs, 0);
    let p: Float32Array;
    try {
      p = (await all.data()) as Float32Array;
    } finally {
      all.dispose();
    }
    const insertion = Array.from(p.subarray(0, points));
    const deletion = Array.from(p.subarray(points, total));
    const insAuc = trapezoid(fractions, insertion);
    const delAuc = trapezoid(fractions, deletion);
    return { insertion: insAuc, deletion: delAuc, overall: insAuc - delAuc, curves: { fractions, insertion, deletion } };
  } finally {
    tf.dispose(keep);
    tf.dispose(probs);
  }
}
