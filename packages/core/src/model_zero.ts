/*
 * "Zero in the model's space" as a colour in the user's pixel space: the
 * substrate of the perturbation methods and of the deletion metric.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from './errors.js';
import type { Classifier } from './types.js';

const modelZeroCache = new WeakMap<Classifier, number[]>();

/**
 * The colour of "zero in the model's space": per channel, the user-space value `v` with `preprocess(v) = 0`. Found once
 * per classifier (cached) by preprocessing three constant images (one small
 * read-back) and checking that the preprocessing is a per-channel affine map
 * `a·x + b` that does not depend on the pixel position; then `v = −b / a`.
 * Every declarative `PreprocessSpec` is such a map. Under it, masking in the
 * user's space with this colour is exactly masking the preprocessed tensor
 * with 0: `P(x⊙M + v⊙(1−M)) = P(x)⊙M`. Used by the perturbation methods and
 * the deletion metric.
 *
 * @param classifier - the wrapped model.
 * @param fn - the caller's name, for error messages.
 * @example
 * ```ts
 * const grey = await modelZeroColour(classifier, 'rise'); // e.g. the mean colour for mean/std preprocessing
 * ```
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
