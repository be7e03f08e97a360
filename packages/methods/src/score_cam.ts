import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, checkPositiveInt, composite, minMaxNormalize, resolveTargets, throwIfAborted, SaliencyError,
  type Classifier, type LongRunningOptions, type SaliencyMethod, type Targets, yieldToEventLoop } from '@saliency/core/base';
import { blendWithMasks, checkSubstrateOption, substrateColour } from './substrate.js';

/** Options of {@link scoreCam}. */
export interface ScoreCamOptions extends LongRunningOptions {
  /** Layer whose channels become masks: a name, or `'auto'` (default) = the last layer with a 4-D output. */
  layer?: string;
  /** Masked images per forward pass (default 32); peak memory is bounded by it, not by the channel count. */
  batchSize?: number;
  /**
   * What masked-out pixels become. `'model-zero'` (default): zero in the
   * model's preprocessed space — Score-CAM's authors multiply the NORMALISED
   * input by the mask — i.e. the colour the classifier's preprocessing maps to 0.
   * A number or one number per channel: that colour in the user's pixel range.
   */
  substrate?: 'model-zero' | number | readonly number[];
  /**
   * Subtract the baseline score from every weight: `w_k = p_c(x⊙mask_k) − p_c(x⊙0)`, the
   * "increase of confidence" of the Score-CAM paper (x⊙0 is the all-substrate image). Default
   * `false`: `w_k = p_c(x⊙mask_k)`, as design.md §3 and the authors' released code.
   */
  subtractBaseline?: boolean;
}

/**
 * Score-CAM (Wang et al. 2020): each channel A_k of the layer, bilinearly
 * up-sampled to the input size and min-max normalised, is a mask; its weight
 * is the target's softmax probability on the masked image,
 * `w_k = p_c(x⊙mask_k)`; map = ReLU(Σ_k w_k A_k) at the layer's resolution,
 * bilinearly up-sampled (half-pixel centres, like `gradCam`) and min-max
 * normalised per image.
 *
 * - By default no baseline is subtracted from w_k (design.md §3 and the authors'
 *   released code); `subtractBaseline: true` gives the paper's increase of
 *   confidence `p_c(x⊙mask_k) − p_c(x⊙0)` (one more forward pass per image).
 *   With non-negative weights the map leans on the layer's activation layout:
 *   on the face model, re-initialising `fc` and `dense3` leaves Spearman ρ ≈ 0.7
 *   with the trained model's map (Adebayo et al.'s sanity check fails).
 * - A constant channel (whose normalised mask is all zeros) gets weight 0, as
 *   in the authors' code, which skips it.
 * - `x⊙mask` is taken in the model's preprocessed space by default (see
 *   {@link ScoreCamOptions.substrate}).
 * - One forward pass per `batchSize` channels (K/batchSize passes per image);
 *   the masks of a batch are made on the device from the activations, and the
 *   weights stay there. `onProgress` after every pass (`done`/`total` in masked
 *   images, phase `'scorecam'`); `signal` is checked before every pass.
 *
 * @throws SaliencyError `BAD_OPTION` (at once); `UNKNOWN_LAYER`, `LAYER_NOT_4D`,
 *   `ABORTED` and the image/target codes from `explain`.
 *
 * @example
 * ```ts
 * const maps = await scoreCam({ layer: 'dense3', batchSize: 64 }).explain(classifier, images, 'top');
 * ```
 */
export function scoreCam(opts: ScoreCamOptions = {}): SaliencyMethod {
  const layer = opts.layer ?? 'auto';
  const batchSize = checkPositiveInt(opts.batchSize ?? 32, 'scoreCam: batchSize');
  const substrate = checkSubstrateOption(opts.substrate ?? 'model-zero', 'scoreCam');
  const subtractBaseline = opts.subtractBaseline ?? false;
  if (typeof subtractBaseline !== 'boolean') {
    throw new SaliencyError('BAD_OPTION', `scoreCam: subtractBaseline must be true or false, got ${JSON.stringify(subtractBaseline)}.`);
  }
  return {
    name: 'scorecam',
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      await checkImages(images, classifier, classifier.inputSize);
      const access = classifier.at(layer);
      const classes = await resolveTargets(classifier, images, targets, batchSize);
      const colour = await substrateColour(classifier, substrate, 'scoreCam');
      const [count, h, w, c] = images.shape;
      const maps: tf.Tensor3D[] = [];
      let done = 0;
      let total = 0;
      try {
        for (let i = 0; i < count; i++) {
          throwIfAborted(opts.signal);
          const cls = classes[i];
          const held: tf.Tensor[] = [];
          try {
            const xi = tf.slice(images, [i, 0, 0, 0], [1, h, w, c]);
            held.push(xi);
            const a = tf.tidy(() => access.features(classifier.preprocess(xi)));
            held.push(a);
            const k = a.shape[3];
            total = total === 0 ? count * k : total;
            // p_c of the all-substrate image x⊙0 (only with subtractBaseline), [1].
            const baseline = subtractBaseline
              ? tf.tidy(() => tf.reshape(tf.slice(classifier.probabilities(composite(xi, tf.zeros([1, h, w]), colour)), [0, cls], [1, 1]), [1]))
              : null;
            if (baseline != null) held.push(baseline);
            const weights: tf.Tensor1D[] = [];
            try {
              for (let start = 0; start < k; start += batchSize) {
                const size = Math.min(batchSize, k - start);
                throwIfAborted(opts.signal);
                weights.push(tf.tidy(() => {
                  const ch = tf.transpose(tf.slice(a, [0, 0, 0, start], [1, -1, -1, size]), [3, 1, 2, 0]) as tf.Tensor4D; // [size, h', w', 1]
                  const up = tf.squeeze(tf.image.resizeBilinear(ch, [h, w], false, true), [3]) as tf.Tensor3D;
                  const masks = minMaxNormalize(up); // a constant channel → all zeros
                  const used = tf.cast(tf.greater(tf.max(masks, [1, 2]), 0.5), 'float32'); // [size]
                  const masked = blendWithMasks(xi, masks, colour);
                  const pc = tf.reshape(tf.slice(classifier.probabilities(masked), [0, cls], [size, 1]), [size]);
                  return tf.mul(baseline == null ? pc : tf.sub(pc, baseline), used) as tf.Tensor1D;
                }));
                done += size;
                opts.onProgress?.({ done, total, phase: 'scorecam' });
                if (start + size < k || i + 1 < count) await yieldToEventLoop();
              }
              maps.push(tf.tidy(() => {
                const wk = weights.length === 1 ? weights[0] : tf.concat(weights);
                const cam = tf.relu(tf.sum(tf.mul(a, wk), -1, true)) as tf.Tensor4D;
                const up = tf.image.resizeBilinear(cam, [h, w], false, true);
                return minMaxNormalize(tf.squeeze(up, [3]) as tf.Tensor3D);
              }));
            } finally {
              tf.dispose(weights);
            }
          } finally {
            tf.dispose(held);
          }
        }
        return maps.length === 1 ? (maps.pop() as tf.Tensor3D) : (tf.concat(maps, 0) as tf.Tensor3D);
      } finally {
        tf.dispose(maps);
      }
    },
  };
}
