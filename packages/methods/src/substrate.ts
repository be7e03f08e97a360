/*
 * What masked-out pixels become in the perturbation methods (RISE, Score-CAM):
 * by default ZERO IN THE MODEL'S PREPROCESSED SPACE, as the authors' code does
 * (it multiplies the normalised input tensor by the mask), expressed as the
 * colour in the user's pixel space that the classifier's preprocessing maps to 0.
 * Internal to @saliency/methods.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError, type Classifier } from '@saliency/core/base';

/**
 * `'model-zero'`: the colour the classifier's preprocessing maps to 0 (zero in
 * the model's normalised space; the mean colour for mean/std preprocessing,
 * black for `x / 255`); a number: that grey level in the user's pixel range;
 * an array: one value per channel in the user's pixel range.
 */
export type SubstrateOption = 'model-zero' | number | readonly number[];

const modelZeroCache = new WeakMap<Classifier, number[]>();

/**
 * Per channel, the user-space value `v` with `preprocess(v) = 0`. Found once
 * per classifier (cached) by preprocessing three constant images (one small
 * read-back) and checking that the preprocessing is a per-channel affine map
 * `a·x + b` that does not depend on the pixel position; then `v = −b / a`.
 * Every declarative `PreprocessSpec` is such a map. Under it, masking in the
 * user's space with this colour is exactly masking the preprocessed tensor
 * with 0: `P(x⊙M + v⊙(1−M)) = P(x)⊙M`.
 */
export async function modelZeroColour(classifier: Classifier, fn: string): Promise<number[]> {
  const cached = modelZeroCache.get(classifier);
  if (cached != null) return cached;
  const [h, w] = classifier.inputSize;
  const c = classifier.channels;
  const [lo, hi] = classifier.inputRange;
  const levels = [lo, hi, lo + 0.37 * (hi - lo)];
  const probe = tf.tidy(() => {
    const imgs = tf.mul(tf.ones([3, h, w, c]), tf.tensor4d(levels, [3, 1, 1, 1])) as tf.Tensor4D;
    return classifier.preprocess(imgs);
  });
  let v: Float32Array;
  try {
    if (probe.shape.join() !== [3, h, w, c].join()) {
      throw new SaliencyError('BAD_OPTION', `${fn}: the classifier's preprocessing changes the image shape to [${probe.shape.join(', ')}]; pass \`substrate\` (a value in the user's pixel range) explicitly.`);
    }
    v = (await probe.data()) as Float32Array;
  } finally {
    probe.dispose();
  }
  const notAffine = (): never => {
    throw new SaliencyError('BAD_OPTION', `${fn}: the classifier's preprocessing is not a per-channel affine map, so "zero in the model's space" is no single colour. Pass \`substrate\`: one number or ${c} values in the user's pixel range [${lo}, ${hi}].`);
  };
  const plane = h * w * c;
  const out: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    const at = (img: number, px: number): number => v[img * plane + px * c + ch];
    for (let img = 0; img < 3; img++) {
      const ref = at(img, 0);
      for (let px = 1; px < h * w; px++) {
        if (Math.abs(at(img, px) - ref) > 1e-5 * Math.max(1, Math.abs(ref))) notAffine();
      }
    }
    const p0 = at(0, 0), p1 = at(1, 0), pm = at(2, 0);
    const a = (p1 - p0) / (hi - lo);
    const b = p0 - a * lo;
    if (!(a !== 0 && Number.isFinite(a) && Number.isFinite(b))) notAffine();
    if (Math.abs(pm - (a * levels[2] + b)) > 1e-4 * Math.max(1, Math.abs(p0), Math.abs(p1))) notAffine();
    out.push(-b / a);
  }
  modelZeroCache.set(classifier, out);
  return out;
}

/** Resolves a {@link SubstrateOption} to one user-space value per channel. Throws `BAD_OPTION`. */
export async function substrateColour(classifier: Classifier, substrate: SubstrateOption, fn: string): Promise<number[]> {
  if (substrate === 'model-zero') return modelZeroColour(classifier, fn);
  const c = classifier.channels;
  const list = typeof substrate === 'number' ? new Array<number>(c).fill(substrate) : [...substrate];
  if (list.length !== c || list.some((e) => typeof e !== 'number' || !Number.isFinite(e))) {
    throw new SaliencyError('BAD_OPTION', `${fn}: substrate must be 'model-zero', one finite number, or ${c} finite numbers (one per channel); got ${JSON.stringify(substrate)}.`);
  }
  return list;
}

/** Validates a substrate option at factory time (before any classifier is known). Throws `BAD_OPTION`. */
export function checkSubstrateOption(substrate: unknown, fn: string): SubstrateOption {
  if (substrate === 'model-zero') return substrate;
  if (typeof substrate === 'number' && Number.isFinite(substrate)) return substrate;
  if (Array.isArray(substrate) && substrate.length > 0 && substrate.every((e) => typeof e === 'number' && Number.isFinite(e))) {
    return substrate as readonly number[];
  }
  throw new SaliencyError('BAD_OPTION', `${fn}: substrate must be 'model-zero', a finite number or an array of finite numbers (one per channel); got ${JSON.stringify(substrate)}.`);
}

/**
 * `x·m + a·(1 − m)` (core's `composite` formula) for ONE image and a batch of masks, written as
 * `a + (x − a)·m` with broadcasting: `x` `[1, H, W, C]`, `masks` `[b, H, W]`, `background` a
 * `[C]` colour or a `[1, H, W, C]` image → `[b, H, W, C]`. Unlike `composite`, it never tiles
 * the image to the batch first (`tf.broadcastTo` costs as much as a third of a 112² forward
 * pass on wasm).
 */
export function blendWithMasks(x: tf.Tensor4D, masks: tf.Tensor3D, background: tf.Tensor | readonly number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const bg = background instanceof tf.Tensor ? tf.cast(background, 'float32') : tf.tensor1d(background as number[], 'float32');
    const m = tf.expandDims(tf.cast(masks, 'float32'), 3);
    return tf.add(bg, tf.mul(tf.sub(tf.cast(x, 'float32'), bg), m)) as tf.Tensor4D;
  });
}
