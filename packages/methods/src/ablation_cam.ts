import * as tf from '@tensorflow/tfjs-core';
import {
  checkPositiveInt, throwIfAborted, yieldToEventLoop, type Classifier, type LayerAccess, type SaliencyMethod, type Targets,
} from '@saliency/core/base';
import { camMaps, checkCamOptions, weightedActivations, type CamBatch, type CamOptions, type CamSpec } from './cam_base.js';

/** Options of {@link ablationCam}. */
export interface AblationCamOptions extends CamOptions {
  /**
   * Ablated copies of the activations per pass through the head (default 32): peak memory is
   * bounded by it, not by the number of channels. Where the head starts with a per-channel
   * reduction ({@link LayerAccess.reduced}), a pass takes `channelBatchSize × h × w` reduced rows
   * instead (the same bytes). `batchSize` counts images per feature pass.
   */
  channelBatchSize?: number;
}

/** `(S − S_k) / S` for each ablated channel's score `S_k`: `[size]`. */
function relativeDrop(s: tf.Tensor1D, sk: tf.Tensor1D): tf.Tensor1D {
  return tf.div(tf.sub(s, sk), s) as tf.Tensor1D;
}

/** Keep masks, made once per call and shared by its images; `dispose()` frees them. */
interface KeepMasks {
  /** `[size, k]` (`[size, 1, 1, k]` when spatial): ones, with a zero at channel start + i in row i. */
  get(start: number, size: number): tf.Tensor;
  dispose(): void;
}

/**
 * {@link KeepMasks} for `k` channels, written on the host (wasm's oneHot took 4 ms for 1280 × 1280,
 * more than the ablated rows it multiplies) and uploaded once per channel batch per call.
 */
function keepMasks(k: number, spatial: boolean): KeepMasks {
  const made = new Map<number, tf.Tensor>();
  return {
    get(start, size) {
      let mask = made.get(start);
      if (mask == null) {
        const v = new Float32Array(size * k).fill(1);
        for (let i = 0; i < size; i++) v[i * k + start + i] = 0;
        mask = tf.keep(tf.tensor(v, spatial ? [size, 1, 1, k] : [size, k]));
        made.set(start, mask);
      }
      return mask;
    },
    dispose() {
      tf.dispose([...made.values()]);
      made.clear();
    },
  };
}

/**
 * Scores of the ablated copies of ONE image, `channelBatch` channels per pass, as `[k]` relative
 * drops; `score(start, size)` returns the target logits `[size]` with channels start … start +
 * size − 1 zeroed in turn. Checks `signal`, reports and yields after every pass.
 */
async function ablationScores(
  k: number, channelBatch: number, s: tf.Tensor1D, score: (start: number, size: number) => tf.Tensor1D,
  signal: AbortSignal | undefined, progress: (size: number) => void,
): Promise<tf.Tensor4D> {
  const parts: tf.Tensor1D[] = [];
  try {
    for (let start = 0; start < k; start += channelBatch) {
      throwIfAborted(signal);
      const size = Math.min(channelBatch, k - start);
      parts.push(tf.tidy(() => relativeDrop(s, score(start, size))));
      progress(size);
      await yieldToEventLoop();
    }
    return tf.tidy(() => tf.reshape(parts.length === 1 ? parts[0] : tf.concat(parts), [1, 1, 1, k]) as tf.Tensor4D);
  } finally {
    tf.dispose(parts);
  }
}

/**
 * `score(start, size)` for ONE image with the whole head: its `[h, w, k]` activations `a` with
 * channels start … start + size − 1 zeroed in turn, through `head`. The input copies the head
 * needs for its batch (skip connections) are made once, by concatenation: wasm's Tile kernel takes
 * ~480 ms for 32 copies of a 224² image (it was 85 % of Ablation-CAM's time on MobileNetV2),
 * concat ~12 ms for the same bytes. Returns the scorer and the tensors it holds.
 */
function wholeHeadScorer(
  access: LayerAccess, a: tf.Tensor4D, x: tf.Tensor4D, cls: number, channelBatch: number, masks: KeepMasks,
): { score: (start: number, size: number) => tf.Tensor1D; held: tf.Tensor[] } {
  const full = Math.min(channelBatch, a.shape[3]);
  const xsFull = full === 1 ? x : (tf.concat(new Array<tf.Tensor4D>(full).fill(x), 0) as tf.Tensor4D);
  return {
    score: (start, size) => {
      const ablated = tf.mul(a, masks.get(start, size)) as tf.Tensor4D;
      const xs = size === full ? xsFull : (tf.slice(xsFull, [0, 0, 0, 0], [size, -1, -1, -1]) as tf.Tensor4D);
      return targetColumn(access.head(ablated, xs), cls, size);
    },
    held: xsFull === x ? [] : [xsFull],
  };
}

/** Column `cls` of `[size, classes]` logits as `[size]`. */
function targetColumn(logits: tf.Tensor2D, cls: number, size: number): tf.Tensor1D {
  return tf.reshape(tf.slice(logits, [0, cls], [size, 1]), [size]);
}

/**
 * Ablation-CAM's weights for a batch: w_k = (S − S_k) / S per image, with S the target logit
 * from the unchanged activations (one head pass for the batch) and S_k with channel k set to
 * zero. Where the layer's head starts with a per-channel reduction ({@link LayerAccess.reduced}),
 * the batch is reduced once and each image's ablated copies are `[n, k]` rows of its reduced
 * activations (exact: zeroing channel k before the reduction zeroes column k after it);
 * otherwise `channelBatch` ablated `[h, w, k]` copies of the image go through `head` per pass.
 * Returns `[b, 1, 1, k]`.
 */
async function ablationWeights(batch: CamBatch, channelBatch: number, masks: KeepMasks, progress: (size: number) => void): Promise<tf.Tensor4D> {
  const { access, run, features, x } = batch;
  const [b, h, w, k] = features.shape;
  const reduced = access.reduced;
  const held: tf.Tensor[] = [];
  const parts: tf.Tensor4D[] = [];
  try {
    const r = reduced?.reduce(features) ?? null; // [b, k]
    if (r != null) held.push(r);
    const logits = reduced != null && r != null ? reduced.rest(r) : access.head(features, x);
    held.push(logits);
    for (let i = 0; i < b; i++) {
      const cls = batch.targets[i] as number;
      const own: tf.Tensor[] = [];
      try {
        const s = tf.tidy(() => tf.reshape(tf.slice(logits, [i, cls], [1, 1]), [1]) as tf.Tensor1D);
        own.push(s);
        let score: (start: number, size: number) => tf.Tensor1D;
        let perPass = channelBatch;
        if (reduced != null && r != null) {
          const ri = tf.slice(r, [i, 0], [1, -1]);
          own.push(ri);
          score = (start, size) => targetColumn(reduced.rest(tf.mul(ri, masks.get(start, size)) as tf.Tensor2D), cls, size);
          // A reduced row is h·w times smaller than a copy: the same bytes hold that many more rows.
          perPass = channelBatch * h * w;
        } else {
          const a = tf.slice(features, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
          own.push(a);
          const xi = tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
          own.push(xi);
          const whole = wholeHeadScorer(access, a, xi, cls, channelBatch, masks);
          own.push(...whole.held);
          score = whole.score;
        }
        parts.push(await ablationScores(k, perPass, s, score, run.signal, progress));
      } finally {
        tf.dispose(own);
      }
    }
    return parts.length === 1 ? (parts.pop() as tf.Tensor4D) : (tf.concat(parts, 0) as tf.Tensor4D);
  } finally {
    tf.dispose([...held, ...parts]);
  }
}

/**
 * Ablation-CAM (Desai & Ramaswamy, WACV 2020): gradient-free; the weight of channel k is the
 * relative drop of the target LOGIT when that channel of the layer is set to zero,
 * w_k = (S_c − S_c^k) / S_c; map = ReLU(Σ_k w_k A_k), bilinearly up-sampled, min-max normalised
 * per image. The layer's activations are computed once per image (`batchSize` images per pass,
 * default 8, with one unablated head pass per batch); the ablated copies are scored
 * from the layer onward (`head(features)`), `channelBatchSize` per pass, never by re-running
 * the whole model per channel: K/channelBatchSize head passes per image (K channels). When the
 * head starts by pooling each channel over space (global or average pooling, ReLU, dropout, a
 * flatten of 1×1 — {@link LayerAccess.reduced}, offered by `fromLayersModel`), the copies are
 * ablated AFTER that reduction, which gives the same logits exactly and skips building K copies
 * of `[h, w, K]` (on MobileNetV2: 80 M floats per image).
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
  const o = checkCamOptions(opts, 'ablationCam');
  const channelBatch = checkPositiveInt(opts.channelBatchSize ?? 32, 'ablationCam: channelBatchSize');
  return {
    name: 'ablationcam',
    explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      let done = 0;
      // Shared by every image of the call, freed when it ends (also on a throw or an abort).
      let masks: KeepMasks | undefined;
      const spec: CamSpec = {
        name: 'ablationcam',
        gradients: false,
        ownProgress: true,
        async cam(batch) {
          const k = batch.features.shape[3];
          const total = images.shape[0] * k;
          masks ??= keepMasks(k, batch.access.reduced == null);
          const wts = await ablationWeights(batch, channelBatch, masks, (size) => {
            done += size;
            o.onProgress?.({ done, total, phase: 'ablationcam' });
          });
          try {
            return tf.tidy(() => weightedActivations(batch.features, wts));
          } finally {
            wts.dispose();
          }
        },
      };
      return camMaps(classifier, images, targets, spec, o).finally(() => masks?.dispose());
    },
  };
}
