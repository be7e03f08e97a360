import * as tf from '@tensorflow/tfjs-core';
import {
  checkPositiveInt, resizeBilinear, resizeMaps, throwIfAborted, yieldToEventLoop,
  SaliencyError, type Classifier, type LongRunningOptions,
} from '@saliency/core/base';
import { checkBox, type Box } from './box.js';
import { boxFromMask } from './box_from_mask.js';
import { checkImage3d, checkMap, checkTarget, checkThreshold } from './read_map.js';

/** Result of {@link saliencyMetric} for one box. */
export interface SaliencyMetricResult {
  /** `log(max(area, 0.05)) − log(probability)`; lower is better. */
  value: number;
  /** Box area / image area, in (0, 1]. */
  area: number;
  /** Softmax probability of the target on the crop resized to the model input. */
  probability: number;
  /** The crop that was classified: the box snapped outwards to whole pixels and clipped to the image. */
  box: Box;
}

/** Options of {@link saliencyMetric}. */
export interface SaliencyMetricOptions {
  /** Threshold of the box from the map (see {@link boxFromMask}); default `'mean'`. */
  threshold?: number | 'mean';
  /** Use this box (image pixels) instead of one from the map. */
  box?: Box;
}

/** Options of {@link saliencyMetricBoxes}. */
export interface SaliencyMetricBoxesOptions extends LongRunningOptions {
  /** Crops per forward pass (default 16). */
  batchSize?: number;
}

/** Smallest area fraction the metric credits (Dabkowski & Gal's 0.05). */
export const SALIENCY_METRIC_MIN_AREA = 0.05;

function cropRegion(b: Box, h: number, w: number, what: string): Box {
  checkBox(b, what);
  const x0 = Math.max(0, Math.floor(b.x)), y0 = Math.max(0, Math.floor(b.y));
  const x1 = Math.min(w, Math.ceil(b.x + b.width)), y1 = Math.min(h, Math.ceil(b.y + b.height));
  if (x1 <= x0 || y1 <= y0) {
    throw new SaliencyError('BAD_OPTION', `${what} ${JSON.stringify(b)} covers no pixel of the ${h}×${w} image; give a box of positive size inside the image.`);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * The saliency metric of Dabkowski & Gal ("Real time image saliency for black
 * box classifiers", NIPS 2017) for many boxes of one image, the crops
 * classified in batches (one forward pass per `batchSize` boxes): each box is
 * snapped outwards to whole pixels and clipped to the image, the crop is
 * resized (bilinear, half-pixel centres) to the classifier's input, p = its
 * softmax probability of `target`, a = crop area / image area, and
 * `value = log(max(a, 0.05)) − log(p)` (natural logarithms; +∞ when p
 * underflows to 0). Lower is better: a small box that the classifier still
 * recognises.
 *
 * @param classifier - the wrapped model.
 * @param image - `[H, W, C]` in the user's pixel range, any size.
 * @param boxes - boxes in the image's pixels.
 * @param target - the class.
 * @param opts - `batchSize` (default 16), `onProgress`, `signal`.
 * @throws SaliencyError `BAD_OPTION` (bad or empty box), `BAD_RANK`, `BAD_CHANNELS`, `BAD_TARGET`,
 *   `IMAGE_TOO_SMALL`, `NON_FINITE_INPUT`, `ABORTED`.
 *
 * @example
 * ```ts
 * const results = await saliencyMetricBoxes(classifier, image, [box1, box2, box3], cls);
 * const best = results.reduce((a, b) => (b.value < a.value ? b : a));
 * ```
 */
export async function saliencyMetricBoxes(
  classifier: Classifier,
  image: tf.Tensor3D,
  boxes: readonly Box[],
  target: number,
  opts: SaliencyMetricBoxesOptions = {},
): Promise<SaliencyMetricResult[]> {
  const fn = 'saliencyMetricBoxes';
  const batchSize = checkPositiveInt(opts.batchSize ?? 16, `${fn}: batchSize`);
  checkTarget(target, classifier.numClasses, fn);
  if (!Array.isArray(boxes)) throw new SaliencyError('BAD_OPTION', `${fn}: boxes must be an array of {x, y, width, height}.`);
  const [h, w] = await checkImage3d(image, classifier.channels, fn);
  const crops = boxes.map((b, i) => cropRegion(b, h, w, `${fn}: boxes[${i}]`));
  const [H, W] = classifier.inputSize;
  const probs: tf.Tensor1D[] = [];
  try {
    for (let start = 0; start < crops.length; start += batchSize) {
      throwIfAborted(opts.signal);
      const part = crops.slice(start, start + batchSize);
      probs.push(tf.tidy(() => {
        const batch = tf.stack(part.map((c) => resizeBilinear(tf.slice(image, [c.y, c.x, 0], [c.height, c.width, -1]) as tf.Tensor3D, [H, W]))) as tf.Tensor4D;
        return tf.reshape(tf.slice(classifier.probabilities(batch), [0, target], [part.length, 1]), [part.length]) as tf.Tensor1D;
      }));
      opts.onProgress?.({ done: start + part.length, total: crops.length, phase: 'saliency-metric' });
      if (start + part.length < crops.length) await yieldToEventLoop();
    }
    if (crops.length === 0) return [];
    const all = tf.concat(probs, 0);
    let p: Float32Array;
    try {
      p = (await all.data()) as Float32Array;
    } finally {
      all.dispose();
    }
    return crops.map((box, i) => {
      const area = (box.width * box.height) / (h * w);
      const probability = p[i];
      return { value: Math.log(Math.max(area, SALIENCY_METRIC_MIN_AREA)) - Math.log(probability), area, probability, box };
    });
  } finally {
    tf.dispose(probs);
  }
}

/**
 * The saliency metric of Dabkowski & Gal for one map: the box from the mask
 * ({@link boxFromMask} with `threshold`, default the map's mean, on the map
 * resized to the image's size when it is not), or `opts.box`; then
 * {@link saliencyMetricBoxes} on that box: crop, resize to the model input,
 * p = probability of `target`, a = box area / image area,
 * `value = log(max(a, 0.05)) − log(p)`. Lower is better.
 *
 * @param classifier - the wrapped model.
 * @param image - `[H, W, C]` in the user's pixel range, any size.
 * @param map - `[h, w]` saliency map of the image.
 * @param target - the class.
 * @param opts - see {@link SaliencyMetricOptions}.
 * @throws SaliencyError `BAD_OPTION` (also when no pixel reaches the threshold), and the codes of {@link saliencyMetricBoxes}.
 *
 * @example
 * ```ts
 * const { value, area, probability, box } = await saliencyMetric(classifier, image, map, cls);
 * ```
 */
export async function saliencyMetric(
  classifier: Classifier,
  image: tf.Tensor3D,
  map: tf.Tensor2D,
  target: number,
  opts: SaliencyMetricOptions = {},
): Promise<SaliencyMetricResult> {
  const fn = 'saliencyMetric';
  const threshold = checkThreshold(opts.threshold ?? 'mean', fn);
  checkTarget(target, classifier.numClasses, fn);
  checkMap(map, fn);
  const [h, w] = await checkImage3d(image, classifier.channels, fn);
  let box = opts.box;
  if (box == null) {
    const sized = map.shape[0] === h && map.shape[1] === w
      ? tf.clone(map)
      : tf.tidy(() => tf.squeeze(resizeMaps(tf.expandDims(map, 0) as tf.Tensor3D, [h, w]), [0]) as tf.Tensor2D);
    try {
      box = (await boxFromMask(sized, { threshold })) ?? undefined;
    } finally {
      sized.dispose();
    }
    if (box == null) {
      throw new SaliencyError('BAD_OPTION', `${fn}: no pixel of the map reaches the threshold ${String(threshold)}; lower it or pass \`box\`.`);
    }
  }
  const [result] = await saliencyMetricBoxes(classifier, image, [box], target);
  return result;
}
