import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, checkPositiveInt, minMaxNormalize, resolveTargets, SaliencyError, throwIfAborted,
  type Classifier, type LongRunningOptions, type Targets, yieldToEventLoop } from '@saliency/core/base';
import { addSmoothGradNoise, noiseScale, SMOOTH_GRAD_NOISE } from './smooth_grad.js';
import { cropViews, fullView, mapViewsBack, tenCropViews, viewCoverage, TEN_CROP_FRACTION, type CropView } from './ten_crop.js';

/** How the per-channel input gradient becomes one value per pixel. */
export type GradientAggregate = 'maxAbs' | 'absSum' | 'signed';

/**
 * Options shared by the gradient methods ({@link vanillaGradient},
 * {@link guidedBackprop}): channel aggregation, batching, SmoothGrad and
 * ten-crop test-time augmentation.
 */
export interface GradientMapOptions extends LongRunningOptions {
  /**
   * `'maxAbs'` (default, Simonyan et al.): max over channels of |∂S_c/∂x|;
   * `'absSum'`: sum over channels of |∂S_c/∂x|; `'signed'`: sum over channels of ∂S_c/∂x.
   * Applied to the averaged gradient when SmoothGrad or ten-crop is on.
   */
  aggregate?: GradientAggregate;
  /**
   * Backward passes per batch (images, or noisy samples / crops of them; default 4:
   * a 224² MobileNetV2 backward at batch 8 takes ~2.5 GiB on wasm).
   */
  batchSize?: number;
  /**
   * SmoothGrad (Smilkov et al. 2017): average the raw gradient over this many
   * noisy copies of each image (then aggregate). `0` (default) = off;
   * {@link SMOOTH_GRAD_SAMPLES} (25) is the usual value when on.
   */
  samples?: number;
  /** SmoothGrad noise level: std = `noise · (max − min)` of each input image. Default 0.15. */
  noise?: number;
  /**
   * Seed of SmoothGrad's noise (default 0). Same seed → same map; each sample's
   * noise is seeded by (seed, sample index), so the map does not depend on `batchSize`.
   */
  seed?: number;
  /**
   * Ten-crop test-time augmentation: the gradient is taken on the 4 corner
   * crops and the centre crop (each `cropFraction` of the image's sides) and on
   * their mirrors, each resized to the model input; each gradient is resized
   * back to its crop, un-mirrored, put in its place, and every pixel gets the
   * mean over the crops that contain it. Combines with SmoothGrad (noise on
   * every crop). Default `false`.
   */
  tenCrop?: boolean;
  /** Side of the ten-crop crops as a fraction of the image's, in [0.5, 1]. Default 0.875 (224 → 196). */
  cropFraction?: number;
}

/** {@link GradientMapOptions} with every default filled in (from {@link checkGradientMapOptions}). */
export interface ResolvedGradientMapOptions extends LongRunningOptions {
  /** Channel aggregation. */
  aggregate: GradientAggregate;
  /** Backward passes per batch. */
  batchSize: number;
  /** SmoothGrad samples (0 = off). */
  samples: number;
  /** SmoothGrad noise level. */
  noise: number;
  /** SmoothGrad seed. */
  seed: number;
  /** Ten-crop augmentation on/off. */
  tenCrop: boolean;
  /** Ten-crop crop side fraction. */
  cropFraction: number;
}

/**
 * The gradient of the sum of each image's target score with respect to a batch
 * of model-size images in the user's pixel range, computed synchronously:
 * `x` `[B, H, W, C]`, one target per item → `[B, H, W, C]` (caller-owned).
 */
export type BatchGradient = (x: tf.Tensor4D, targets: readonly number[]) => tf.Tensor4D;

/**
 * Validates {@link GradientMapOptions} and fills in the defaults. Throws
 * `BAD_OPTION` with what to change.
 *
 * @example
 * ```ts
 * const o = checkGradientMapOptions({ samples: 25 }); // o.noise === 0.15
 * ```
 */
export function checkGradientMapOptions(opts: GradientMapOptions): ResolvedGradientMapOptions {
  const aggregate = opts.aggregate ?? 'maxAbs';
  if (!['maxAbs', 'absSum', 'signed'].includes(aggregate)) {
    throw new SaliencyError('BAD_OPTION', `aggregate must be 'maxAbs', 'absSum' or 'signed'; got '${aggregate}'.`);
  }
  const batchSize = checkPositiveInt(opts.batchSize ?? 4, 'batchSize');
  const samples = opts.samples ?? 0;
  if (!Number.isInteger(samples) || samples < 0) {
    throw new SaliencyError('BAD_OPTION', `samples must be 0 (SmoothGrad off) or a positive integer such as 25; got ${samples}.`);
  }
  const noise = opts.noise ?? SMOOTH_GRAD_NOISE;
  if (!Number.isFinite(noise) || noise < 0) {
    throw new SaliencyError('BAD_OPTION', `noise must be a finite number ≥ 0 (a fraction of the image's value range, e.g. 0.15); got ${noise}.`);
  }
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new SaliencyError('BAD_OPTION', `seed must be an integer; got ${seed}.`);
  const cropFraction = opts.cropFraction ?? TEN_CROP_FRACTION;
  if (!Number.isFinite(cropFraction) || cropFraction < 0.5 || cropFraction > 1) {
    throw new SaliencyError('BAD_OPTION', `cropFraction must lie in [0.5, 1] so the crops cover the image; got ${cropFraction}.`);
  }
  return {
    aggregate, batchSize, samples, noise, seed, tenCrop: opts.tenCrop === true, cropFraction,
    onProgress: opts.onProgress, signal: opts.signal,
  };
}

/**
 * Runs the views (crops × noisy samples) of every image through `gradient` in
 * batches of `batchSize`, maps each gradient back onto its image and averages
 * per pixel; `finish` turns the mean gradients `[k, H, W, C]` of the images
 * completed so far into results. Peak memory: one batch of views and one
 * running sum per image in flight. Yields to the event loop between batches.
 */
async function runViews<T extends tf.Tensor>(
  images: tf.Tensor4D,
  classes: readonly number[],
  gradient: BatchGradient,
  o: ResolvedGradientMapOptions,
  finish: (mean: tf.Tensor4D) => T,
): Promise<T> {
  const [n, h, w] = images.shape;
  const views: CropView[] = o.tenCrop ? tenCropViews(h, w, o.cropFraction) : [fullView(h, w)];
  const perView = Math.max(1, o.samples);
  const perImage = views.length * perView;
  const total = n * perImage;
  const parts: T[] = [];
  let std: tf.Tensor4D | null = null;
  let divisor: tf.Tensor3D | null = null;
  let acc: tf.Tensor4D | null = null;
  try {
    if (o.samples > 0 && o.noise > 0) std = noiseScale(images, o.noise);
    if (perImage > 1) divisor = tf.tidy(() => tf.mul(viewCoverage(views, h, w), perView) as tf.Tensor3D);
    for (let start = 0; start < total; start += o.batchSize) {
      throwIfAborted(o.signal);
      const size = Math.min(o.batchSize, total - start);
      const units = Array.from({ length: size }, (_, i) => start + i);
      const imageOf = units.map((u) => Math.floor(u / perImage));
      const viewOf = units.map((u) => views[Math.floor((u % perImage) / perView)] as CropView);
      const x = tf.tidy(() => {
        const v = cropViews(images, imageOf, viewOf);
        return std == null ? v : addSmoothGradNoise(v, tf.gather(std, tf.tensor1d(imageOf, 'int32')), o.seed, units);
      });
      let g: tf.Tensor4D;
      try {
        g = gradient(x, imageOf.map((i) => classes[i] as number));
      } finally {
        x.dispose();
      }
      try {
        if (perImage === 1) {
          parts.push(tf.tidy(() => finish(g)));
        } else {
          const placed = o.tenCrop ? mapViewsBack(g, viewOf) : g;
          try {
            for (let r = 0; r < size;) {
              let e = r;
              while (e < size && imageOf[e] === imageOf[r]) e++;
              const sum = tf.tidy(() => tf.sum(tf.slice(placed, [r, 0, 0, 0], [e - r, -1, -1, -1]), 0, true) as tf.Tensor4D);
              const prev: tf.Tensor4D | null = acc;
              acc = prev == null ? sum : tf.tidy(() => tf.add(prev, sum) as tf.Tensor4D);
              if (prev != null) tf.dispose([prev, sum]);
              if (((units[e - 1] as number) + 1) % perImage === 0) {
                const done: tf.Tensor4D = acc;
                parts.push(tf.tidy(() => finish(tf.div(done, divisor as tf.Tensor3D) as tf.Tensor4D)));
                done.dispose();
                acc = null;
              }
              r = e;
            }
          } finally {
            if (placed !== g) placed.dispose();
          }
        }
      } finally {
        g.dispose();
      }
      o.onProgress?.({ done: start + size, total, phase: 'gradients' });
      if (start + size < total) await yieldToEventLoop(); // lets an AbortSignal fired by a timer or UI event land
    }
    if (parts.length === 1) return parts.pop() as T;
    return tf.concat(parts, 0) as T;
  } finally {
    tf.dispose([...parts, ...(acc == null ? [] : [acc]), ...(std == null ? [] : [std]), ...(divisor == null ? [] : [divisor])]);
  }
}

/**
 * Per-image mean input gradients `[N, H, W, C]` (the raw values behind the
 * gradient maps): the plain gradient, or its average over SmoothGrad samples
 * and/or the ten crops, mapped back to each pixel.
 *
 * @param classifier - the wrapped model.
 * @param images - `[N, H, W, C]` at the classifier's input size, in its pixel range.
 * @param targets - class per image, or `'top'`.
 * @param gradient - how one batch's gradient is taken (vanilla, guided, …).
 * @param opts - see {@link GradientMapOptions}; `aggregate` is not used here.
 * @returns caller-owned `[N, H, W, C]`.
 *
 * @example
 * ```ts
 * const g = await meanGradients(classifier, images, [2], (x, t) => inputGradient((xi) => selectTargets(classifier.logits(xi), t), x), { samples: 25 });
 * ```
 */
export async function meanGradients(
  classifier: Classifier,
  images: tf.Tensor4D,
  targets: Targets,
  gradient: BatchGradient,
  opts: GradientMapOptions = {},
): Promise<tf.Tensor4D> {
  const o = checkGradientMapOptions(opts);
  await checkImages(images, classifier, classifier.inputSize);
  const classes = await resolveTargets(classifier, images, targets, o.batchSize);
  return runViews(images, classes, gradient, o, (mean) => tf.clone(mean));
}

/** Aggregates gradients `[k, H, W, C]` over channels and min-max normalises each image → `[k, H, W]`. */
function aggregateAndNormalize(g: tf.Tensor4D, aggregate: GradientAggregate): tf.Tensor3D {
  const per = aggregate === 'maxAbs' ? tf.max(tf.abs(g), -1) : aggregate === 'absSum' ? tf.sum(tf.abs(g), -1) : tf.sum(g, -1);
  return minMaxNormalize(per as tf.Tensor3D);
}

/**
 * Gradient saliency maps `[N, H, W]` in [0, 1]: {@link meanGradients}
 * aggregated over channels (`aggregate`) and min-max normalised per image.
 * The engine behind {@link vanillaGradient} and {@link guidedBackprop}.
 *
 * @param classifier - the wrapped model.
 * @param images - `[N, H, W, C]` at the classifier's input size, in its pixel range.
 * @param targets - class per image, or `'top'`.
 * @param gradient - how one batch's gradient is taken.
 * @param opts - already validated options.
 * @returns caller-owned `[N, H, W]`.
 *
 * @example
 * ```ts
 * const maps = await gradientMaps(classifier, images, 'top', myGradient, checkGradientMapOptions({ tenCrop: true }));
 * ```
 */
export async function gradientMaps(
  classifier: Classifier,
  images: tf.Tensor4D,
  targets: Targets,
  gradient: BatchGradient,
  opts: ResolvedGradientMapOptions,
): Promise<tf.Tensor3D> {
  await checkImages(images, classifier, classifier.inputSize);
  const classes = await resolveTargets(classifier, images, targets, opts.batchSize);
  return runViews(images, classes, gradient, opts, (mean) => aggregateAndNormalize(mean, opts.aggregate));
}
