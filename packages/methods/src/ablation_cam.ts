import * as tf from '@tensorflow/tfjs-core';
import {
  checkPositiveInt, throwIfAborted, yieldToEventLoop, type Classifier, type SaliencyMethod, type Targets,
} from '@saliency/core/base';
import { camMaps, checkCamOptions, weightedActivations, type CamBatch, type CamOptions, type CamSpec } from './cam_base.js';

/** Options of {@link ablationCam}. */
export interface AblationCamOptions extends CamOptions {
  /**
   * Ablated copies of the activations per pass through the head (default 32): peak memory is
   * bounded by it, not by the number of channels. `batchSize` counts images per feature pass.
   */
  channelBatchSize?: number;
}

/**
 * Ablation-CAM's weights for ONE image (b = 1): w_k = (S − S_k) / S with S the target logit
 * from the unchanged activations and S_k with channel k set to zero; `channelBatch` ablated
 * copies go through `head` per pass. Returns `[1, 1, 1, k]`.
 */
async function ablationWeights(batch: CamBatch, image: number, channelBatch: number, progress: (size: number) => void): Promise<tf.Tensor4D> {
  const { access, run } = batch;
  const cls = batch.targets[image] as number;
  const held: tf.Tensor[] = [];
  const parts: tf.Tensor1D[] = [];
  try {
    const a = tf.slice(batch.features, [image, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
    held.push(a);
    const x = tf.slice(batch.x, [image, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
    held.push(x);
    const k = a.shape[3];
    const s = tf.tidy(() => tf.reshape(tf.slice(access.head(a, x), [0, cls], [1, 1]), [1]));
    held.push(s);
    // The input copies the head needs for its batch (skip connections), made ONCE per image, by
    // concatenation: wasm's Tile kernel takes ~480 ms for 32 copies of a 224² image (it was 85 %
    // of Ablation-CAM's time on MobileNetV2), concat ~12 ms for the same bytes.
    const full = Math.min(channelBatch, k);
    const xsFull = full === 1 ? x : (tf.concat(new Array<tf.Tensor4D>(full).fill(x), 0) as tf.Tensor4D);
    if (xsFull !== x) held.push(xsFull);
    for (let start = 0; start < k; start += channelBatch) {
      throwIfAborted(run.signal);
      const size = Math.min(channelBatch, k - start);
      parts.push(tf.tidy(() => {
        const keep = tf.sub(1, tf.oneHot(tf.range(start, start + size, 1, 'int32'), k)); // [size, k]
        const ablated = tf.mul(a, tf.reshape(keep, [size, 1, 1, k])) as tf.Tensor4D;
        const xs = size === full ? xsFull : (tf.slice(xsFull, [0, 0, 0, 0], [size, -1, -1, -1]) as tf.Tensor4D);
        const sk = tf.reshape(tf.slice(access.head(ablated, xs), [0, cls], [size, 1]), [size]);
        return tf.div(tf.sub(s, sk), s) as tf.Tensor1D;
      }));
      progress(size);
      await yieldToEventLoop();
    }
    return tf.tidy(() => tf.reshape(parts.length === 1 ? parts[0] : tf.concat(parts), [1, 1, 1, k]) as tf.Tensor4D);
  } finally {
    tf.dispose([...held, ...parts]);
  }
}

/**
 * Ablation-CAM (Desai & Ramaswamy, WACV 2020): gradient-free; the weight of channel k is the
 * relative drop of the target LOGIT when that channel of the layer is set to zero,
 * w_k = (S_c − S_c^k) / S_c; map = ReLU(Σ_k w_k A_k), bilinearly up-sampled, min-max normalised
 * per image. The layer's activations are computed once per image; the ablated copies are scored
 * from the layer onward (`head(features)`), `channelBatchSize` per pass, never by re-running
 * the whole model per channel: K/channelBatchSize head passes per image (K channels).
 * `onProgress` counts ablated channels (phase `'ablationcam'`), `signal` is checked before
 * every pass, and the call yields to the event loop between passes.
 *
 * Note: as in the paper and pytorch-grad-cam, S_c is used as it is; when the target logit is
 * negative the weights change sign, and a logit of exactly 0 gives non-finite weights.
 *
 * @throws SaliencyError `BAD_OPTION` (at once); `UNKNOWN_LAYER`, `LAYER_NOT_4D`, `ABORTED` and
 *   the image/target codes from `explain`.
 *
 * @example
 * ```ts
 * const maps = await ablationCam({ layer: 'dense3', channelBatchSize: 64 }).explain(classifier, images, 'top');
 * ```
 */
export function ablationCam(opts: AblationCamOptions = {}): SaliencyMethod {
  const o = checkCamOptions(opts, 'ablationCam', 1);
  const channelBatch = checkPositiveInt(opts.channelBatchSize ?? 32, 'ablationCam: channelBatchSize');
  return {
    name: 'ablationcam',
    explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      let done = 0;
      const spec: CamSpec = {
        name: 'ablationcam',
        gradients: false,
        ownProgress: true,
        async cam(batch) {
          const k = batch.features.shape[3];
          const total = images.shape[0] * k;
          const maps: tf.Tensor4D[] = [];
          try {
            for (let i = 0; i < batch.targets.length; i++) {
              const wts = await ablationWeights(batch, i, channelBatch, (size) => {
                done += size;
                o.onProgress?.({ done, total, phase: 'ablationcam' });
              });
              maps.push(tf.tidy(() => weightedActivations(tf.slice(batch.features, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D, wts)));
              wts.dispose();
            }
            return maps.length === 1 ? (maps.pop() as tf.Tensor4D) : (tf.concat(maps, 0) as tf.Tensor4D);
          } finally {
            tf.dispose(maps);
          }
        },
      };
      return camMaps(classifier, images, targets, spec, o);
    },
  };
}
