import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, checkPositiveInt, gaussianBlur, gaussianKernel1d, inputGradient, minMaxNormalize, resolveTargets,
  selectTargets, throwIfAborted, SaliencyError,
  type Classifier, type GaussianBlurOptions, type LongRunningOptions, type SaliencyMethod, type Targets, yieldToEventLoop } from '@saliency/core/base';
import { blendWithMasks } from './substrate.js';

/** Options of {@link groupCam}. */
export interface GroupCamOptions extends LongRunningOptions {
  /** Layer whose activations are grouped: a name, or `'auto'` (default) = the last layer with a 4-D output. */
  layer?: string;
  /**
   * Number of groups G of consecutive channels (default 32, or the layer's
   * channel count K when that is smaller). With K not a multiple of G the first
   * `K mod G` groups get one channel more (every group is non-empty). Must not exceed K.
   */
  groups?: number;
  /** The blur that makes the baseline: Gaussian, default 51×51 with σ = 50 (the Group-CAM paper). */
  blur?: GaussianBlurOptions;
  /** Masked images per forward pass (default 32: all 32 groups of an image in one batch). */
  batchSize?: number;
}

/** `[K, G]` 0/1 matrix: channel k belongs to group g (consecutive channels, sizes differing by at most one). */
function groupMatrix(k: number, g: number): tf.Tensor2D {
  const m = new Float32Array(k * g);
  const base = Math.floor(k / g);
  const extra = k % g;
  let ch = 0;
  for (let j = 0; j < g; j++) {
    const size = base + (j < extra ? 1 : 0);
    for (let e = 0; e < size; e++, ch++) m[ch * g + j] = 1;
  }
  return tf.tensor2d(m, [k, g]);
}

/**
 * Group-CAM (Zhang, Rao & Yang 2021), as design.md §3 specifies it:
 *
 * 1. α_k = spatial mean of ∂S_c/∂A_k (S_c the target LOGIT), per image, as in `gradCam`;
 * 2. the K channels are split into G groups of consecutive channels; group map
 *    = ReLU(Σ_{k∈g} α_k A_k), bilinearly up-sampled to H×W (half-pixel centres);
 * 3. M_g = min-max(group map);
 * 4. score_g = ReLU(p_c(x⊙M_g + blur(x)⊙(1−M_g)) − p_c(blur(x))), p = softmax probability,
 *    blur = Gaussian 51×51, σ = 50 (reflect-101 border, see `gaussianBlur`);
 * 5. map = Σ_g score_g · (un-normalised up-sampled group map), then min-max per image.
 *
 * Where the blur and the blend happen: the paper blurs the NORMALISED input
 * tensor. Both steps are done here on the user's pixels, which is the same
 * thing for every per-channel affine preprocessing (every `PreprocessSpec`):
 * the Gaussian's weights sum to 1 and the blend's to 1, so
 * `P(blur(x)) = blur(P(x))` and `P(x⊙M + b⊙(1−M)) = P(x)⊙M + P(b)⊙(1−M)`.
 * Not done (design.md follows the paper's formula, not the authors' code): the
 * code's 70th-percentile de-noising of the group maps, and its use of the
 * normalised M_g instead of the group map in step 5.
 *
 * The G masked images of an image are scored in forward passes of `batchSize`
 * (default 32 = one pass for G = 32), plus one pass for the blurred baseline
 * and one backward pass per image. Up-sampled maps exist only for the current
 * batch of groups. `onProgress` after every pass (`done`/`total` in masked
 * images, phase `'groupcam'`); `signal` is checked before every pass.
 *
 * @throws SaliencyError `BAD_OPTION` (at once, or when `groups` exceeds the
 *   layer's channels); `UNKNOWN_LAYER`, `LAYER_NOT_4D`, `NO_GRADIENTS`,
 *   `ABORTED` and the image/target codes from `explain`.
 *
 * @example
 * ```ts
 * const maps = await groupCam({ layer: 'dense3' }).explain(classifier, images, 'top');
 * ```
 */
export function groupCam(opts: GroupCamOptions = {}): SaliencyMethod {
  const layer = opts.layer ?? 'auto';
  const groups = opts.groups == null ? null : checkPositiveInt(opts.groups, 'groupCam: groups');
  const blur: GaussianBlurOptions = opts.blur ?? { kernelSize: 51, sigma: 50 };
  gaussianKernel1d(blur.kernelSize, blur.sigma).dispose(); // validates kernelSize and sigma now (BAD_OPTION)
  const batchSize = checkPositiveInt(opts.batchSize ?? 32, 'groupCam: batchSize');
  return {
    name: 'groupcam',
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      await checkImages(images, classifier, classifier.inputSize);
      const access = classifier.at(layer);
      const classes = await resolveTargets(classifier, images, targets, batchSize);
      const [count, h, w, c] = images.shape;
      const maps: tf.Tensor3D[] = [];
      let assign: tf.Tensor2D | null = null;
      let total = 0;
      let done = 0;
      try {
        for (let i = 0; i < count; i++) {
          throwIfAborted(opts.signal);
          const cls = classes[i];
          const xi = tf.slice(images, [i, 0, 0, 0], [1, h, w, c]);
          const held: tf.Tensor[] = [xi];
          try {
            const xp = classifier.preprocess(xi);
            held.push(xp);
            const a = access.features(xp);
            held.push(a);
            const k = a.shape[3];
            const g = groups ?? Math.min(32, k);
            if (g > k) {
              throw new SaliencyError('BAD_OPTION', `groupCam: groups = ${g} exceeds the ${k} channels of layer '${access.name}'; use groups ≤ ${k}.`);
            }
            assign ??= groupMatrix(k, g);
            total = total === 0 ? count * g : total;
            const grads = inputGradient((ai: tf.Tensor4D) => selectTargets(access.head(ai, xp), [cls]), a);
            held.push(grads);
            // Raw group maps at the layer's resolution, [1, h', w', G].
            const groupMaps = tf.tidy(() => {
              const alpha = tf.mean(grads, [1, 2], true);
              const [, fh, fw] = a.shape;
              const summed = tf.matMul(tf.reshape(tf.mul(a, alpha), [fh * fw, k]), assign as tf.Tensor2D);
              return tf.relu(tf.reshape(summed, [1, fh, fw, g])) as tf.Tensor4D;
            });
            held.push(groupMaps);
            const blurred = gaussianBlur(xi, blur);
            held.push(blurred);
            const base = tf.tidy(() => tf.slice(classifier.probabilities(blurred), [0, cls], [1, 1])); // [1, 1]
            held.push(base);
            let acc: tf.Tensor2D = tf.zeros([1, h * w]);
            try {
              for (let start = 0; start < g; start += batchSize) {
                const size = Math.min(batchSize, g - start);
                throwIfAborted(opts.signal);
                const next = tf.tidy(() => {
                  const part = tf.transpose(tf.slice(groupMaps, [0, 0, 0, start], [1, -1, -1, size]), [3, 1, 2, 0]) as tf.Tensor4D;
                  const up = tf.squeeze(tf.image.resizeBilinear(part, [h, w], false, true), [3]) as tf.Tensor3D; // [size, H, W]
                  const masks = minMaxNormalize(up);
                  const masked = blendWithMasks(xi, masks, blurred); // composite(x, M, blur(x)) without tiling x
                  const pc = tf.slice(classifier.probabilities(masked), [0, cls], [size, 1]); // [size, 1]
                  const score = tf.relu(tf.sub(pc, base));
                  return tf.add(acc, tf.matMul(score, tf.reshape(up, [size, h * w]), true, false)) as tf.Tensor2D;
                });
                acc.dispose();
                acc = next;
                done += size;
                opts.onProgress?.({ done, total, phase: 'groupcam' });
                if (start + size < g || i + 1 < count) await yieldToEventLoop();
              }
              const sum = acc;
              maps.push(tf.tidy(() => minMaxNormalize(tf.reshape(sum, [1, h, w]) as tf.Tensor3D)));
            } finally {
              acc.dispose();
            }
          } finally {
            tf.dispose(held);
          }
        }
        return maps.length === 1 ? (maps.pop() as tf.Tensor3D) : (tf.concat(maps, 0) as tf.Tensor3D);
      } finally {
        tf.dispose(maps);
        assign?.dispose();
      }
    },
  };
}
