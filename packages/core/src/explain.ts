import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from './errors.js';
import { imageToTensor } from './image.js';
import { minMaxNormalize } from './ops/min_max_normalize.js';
import type { Classifier, ImageLike, SaliencyMethod, Targets } from './types.js';
import { checkImages } from './validate.js';

/** Options of {@link explain}. */
export interface ExplainOptions {
  /** Class(es) to explain; default `'top'`. */
  target?: Targets;
}

/** A method that takes images of any size itself (SESS does). */
export interface AnySizeMethod extends SaliencyMethod {
  /** True when the method resizes/tiles by itself and wants the image at its own size. */
  readonly anySize: true;
}

function takesAnySize(m: SaliencyMethod): m is AnySizeMethod {
  return (m as Partial<AnySizeMethod>).anySize === true;
}

/**
 * The one-call path: explains an image of any size and aspect ratio.
 * A `[H, W, C]` tensor or an {@link ImageLike} gives a `[H, W]` map; a
 * `[N, H, W, C]` batch gives `[N, H, W]`. Images are resized to the model's
 * input (unless the method handles any size, like SESS) and the maps are
 * resized back to the image's own size (and min-max normalised again there). The caller
 * disposes the result.
 *
 * @example
 * ```ts
 * const map = await explain(gradCam(), classifier, { data, width, height });
 * ```
 */
export async function explain(method: SaliencyMethod, classifier: Classifier, image: tf.Tensor3D | ImageLike, opts?: ExplainOptions): Promise<tf.Tensor2D>;
export async function explain(method: SaliencyMethod, classifier: Classifier, image: tf.Tensor4D, opts?: ExplainOptions): Promise<tf.Tensor3D>;
export async function explain(
  method: SaliencyMethod,
  classifier: Classifier,
  image: tf.Tensor3D | tf.Tensor4D | ImageLike,
  opts: ExplainOptions = {},
): Promise<tf.Tensor2D | tf.Tensor3D> {
  const isTensor = image instanceof tf.Tensor;
  if (isTensor && image.rank !== 3 && image.rank !== 4) {
    throw new SaliencyError('BAD_RANK', `explain() takes [H, W, C] or [N, H, W, C] images; got rank ${image.rank}.`);
  }
  const single = !isTensor || image.rank === 3;
  const batch: tf.Tensor4D = isTensor
    ? (image.rank === 3 ? tf.expandDims(image, 0) : tf.clone(image)) as tf.Tensor4D
    : imageToTensor(image, classifier.inputRange, classifier.channels);
  let resized: tf.Tensor4D | null = null;
  let maps: tf.Tensor3D | null = null;
  try {
    await checkImages(batch, classifier);
    const [, h, w] = batch.shape;
    const [ih, iw] = classifier.inputSize;
    const needResize = !takesAnySize(method) && (h !== ih || w !== iw);
    resized = needResize ? tf.image.resizeBilinear(batch, [ih, iw], false, true) : batch;
    maps = await method.explain(classifier, resized, opts.target ?? 'top');
    const m = maps;
    return tf.tidy(() => {
      const back = m.shape[1] === h && m.shape[2] === w
        ? m
        : tf.squeeze(tf.image.resizeBilinear(tf.expandDims(m, -1) as tf.Tensor4D, [h, w], false, true), [3]) as tf.Tensor3D;
      // Re-normalise after resizing so the map at the image's own size still spans [0, 1].
      const normalised = back === m ? tf.clipByValue(m, 0, 1) : minMaxNormalize(back);
      return single ? tf.squeeze(normalised, [0]) as tf.Tensor2D : normalised;
    });
  } finally {
    maps?.dispose();
    if (resized != null && resized !== batch) resized.dispose();
    batch.dispose();
  }
}
