/*
 * The part every class-activation-map method shares (after pytorch-grad-cam's BaseCAM): layer
 * access via `classifier.at(layer)`, the layer's activations (and, when the method needs them,
 * their gradients) per batch of images, the method's own combination of the two, ReLU, bilinear
 * up-sampling to the input size and per-image min-max. The methods (Grad-CAM, Grad-CAM++,
 * XGrad-CAM, LayerCAM, HiResCAM, Eigen-CAM, Ablation-CAM) differ only in `CamSpec.cam`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, checkPositiveInt, inputGradient, minMaxNormalize, resolveTargets, selectTargets, sliceBatch, throwIfAborted,
  yieldToEventLoop, type Classifier, type LayerAccess, type LongRunningOptions, type Targets,
} from '@saliency/core/base';

/** Options every CAM method shares. */
export interface CamOptions extends LongRunningOptions {
  /** Layer whose activations are weighted: a name, or `'auto'` (default) = the last layer with a 4-D output. */
  layer?: string;
  /** Images per backward (or feature) pass (default 8). */
  batchSize?: number;
}

/**
 * What a CAM method sees of one batch of images: the layer, the preprocessed images, their
 * activations and (for gradient methods) the gradients of the summed target logits with respect
 * to them. All tensors are owned by the caller ({@link camMaps}); the method must not dispose them.
 */
export interface CamBatch {
  /** The wrapped model. */
  classifier: Classifier;
  /** The layer's white-box access. */
  access: LayerAccess;
  /** The batch's images after the classifier's preprocessing, `[b, H, W, C]`. */
  x: tf.Tensor4D;
  /** The layer's activations A, `[b, h, w, k]`. */
  features: tf.Tensor4D;
  /** ∂(Σ_i S_{c_i})/∂A with S the target LOGIT (per image, since images do not interact); `null` when not asked for. */
  gradients: tf.Tensor4D | null;
  /** The target class of each image of the batch. */
  targets: readonly number[];
  /** The caller's abort signal and progress callback. */
  run: LongRunningOptions;
}

/** How one CAM method turns a batch's activations (and gradients) into maps at the layer's resolution. */
export interface CamSpec {
  /** The method's name (also the progress phase). */
  name: string;
  /** Whether {@link CamBatch.gradients} is computed. */
  gradients: boolean;
  /**
   * The map BEFORE the ReLU, `[b, h, w, 1]` at the layer's resolution; usually
   * {@link weightedActivations}`(features, weights)`. May be async (Ablation-CAM runs batches of
   * its own, Eigen-CAM reads its small Gram matrices back).
   */
  cam(batch: CamBatch): tf.Tensor4D | Promise<tf.Tensor4D>;
  /** When true the method reports progress itself; otherwise {@link camMaps} reports images done. */
  ownProgress?: boolean;
  /**
   * When true the map does not depend on the target (Eigen-CAM): `'top'` is then not resolved
   * (no forward pass to find the top class) and {@link CamBatch.targets} holds −1 for each image;
   * class indices given explicitly are still checked.
   */
  classAgnostic?: boolean;
}

/**
 * `Σ_k w_k ⊙ A_k` over the channel axis, keeping it: `features` `[b, h, w, k]`, `weights`
 * broadcastable to it (`[b, 1, 1, k]` for one weight per channel, `[b, h, w, k]` element-wise)
 * → `[b, h, w, 1]`. BaseCAM's `get_cam_image`.
 *
 * @example
 * ```ts
 * const cam = weightedActivations(a, tf.mean(g, [1, 2], true)); // Grad-CAM before its ReLU
 * ```
 */
export function weightedActivations(features: tf.Tensor4D, weights: tf.Tensor): tf.Tensor4D {
  return tf.sum(tf.mul(features, weights), -1, true) as tf.Tensor4D;
}

/** The resolved form of {@link CamOptions}. */
export interface ResolvedCamOptions extends LongRunningOptions {
  /** Layer name or `'auto'`. */
  layer: string;
  /** Images per pass. */
  batchSize: number;
}

/** Validates {@link CamOptions} at factory time. Throws `BAD_OPTION`. */
export function checkCamOptions(opts: CamOptions, fn: string, defaultBatch = 8): ResolvedCamOptions {
  return {
    layer: opts.layer ?? 'auto',
    batchSize: checkPositiveInt(opts.batchSize ?? defaultBatch, `${fn}: batchSize`),
    onProgress: opts.onProgress,
    signal: opts.signal,
  };
}

/**
 * The ReLU'd CAM of a batch at the input resolution, NOT normalised: `[b, H, W]`. Disposes
 * everything else, also when the model or the method throws.
 */
async function batchCam(
  classifier: Classifier, access: LayerAccess, images: tf.Tensor4D, start: number, size: number,
  targets: readonly number[], spec: CamSpec, run: LongRunningOptions,
): Promise<tf.Tensor3D> {
  const [, h, w] = images.shape;
  const x = tf.tidy(() => classifier.preprocess(sliceBatch(images, start, size)));
  let a: tf.Tensor4D | null = null;
  let g: tf.Tensor4D | null = null;
  let pre: tf.Tensor4D | null = null;
  try {
    a = access.features(x);
    const feats = a;
    if (spec.gradients) g = inputGradient((ai: tf.Tensor4D) => selectTargets(access.head(ai, x), targets), feats);
    pre = await spec.cam({ classifier, access, x, features: feats, gradients: g, targets, run });
    const cam = pre;
    return tf.tidy(() => {
      const up = tf.image.resizeBilinear(tf.relu(cam) as tf.Tensor4D, [h, w], false, true);
      return tf.squeeze(up, [3]) as tf.Tensor3D;
    });
  } finally {
    tf.dispose([x, ...(a == null ? [] : [a]), ...(g == null ? [] : [g]), ...(pre == null ? [] : [pre])]);
  }
}

/**
 * Runs a CAM method over `images` in batches: per batch the layer's activations (one forward
 * pass up to the layer), their gradients when the method needs them (one backward pass from the
 * logit to the layer), `spec.cam`, ReLU, bilinear up-sampling to H×W (half-pixel centres) and,
 * unless `normalize` is false, min-max per image. Checks the signal before every batch,
 * reports `onProgress` (images done, phase = the method's name) after it, and yields to the event
 * loop between batches. Leaves no tensors behind, also when the model throws or the call is aborted.
 *
 * @param classifier - the wrapped model.
 * @param images - `[N, H, W, C]` at the classifier's input size, in its pixel range.
 * @param targets - class per image, or `'top'`.
 * @param spec - the method (see {@link CamSpec}).
 * @param o - resolved options; `layer` overrides are given by the caller.
 * @param normalize - min-max per image (default true); false returns the ReLU'd, up-sampled CAM.
 * @returns caller-owned `[N, H, W]`.
 *
 * @example
 * ```ts
 * const maps = await camMaps(classifier, images, 'top', { name: 'hirescam', gradients: true, cam: (b) => weightedActivations(b.features, b.gradients!) }, checkCamOptions({}, 'hiResCam'));
 * ```
 */
export async function camMaps(
  classifier: Classifier,
  images: tf.Tensor4D,
  targets: Targets,
  spec: CamSpec,
  o: ResolvedCamOptions,
  normalize = true,
): Promise<tf.Tensor3D> {
  await checkImages(images, classifier, classifier.inputSize);
  const access = classifier.at(o.layer);
  const n = images.shape[0];
  const classes = spec.classAgnostic === true && targets === 'top'
    ? new Array<number>(n).fill(-1)
    : await resolveTargets(classifier, images, targets, o.batchSize);
  const parts: tf.Tensor3D[] = [];
  const run: LongRunningOptions = { onProgress: o.onProgress, signal: o.signal };
  try {
    for (let start = 0; start < n; start += o.batchSize) {
      throwIfAborted(o.signal);
      const size = Math.min(o.batchSize, n - start);
      const cam = await batchCam(classifier, access, images, start, size, classes.slice(start, start + size), spec, run);
      if (normalize) {
        parts.push(tf.tidy(() => minMaxNormalize(cam)));
        cam.dispose();
      } else {
        parts.push(cam);
      }
      if (spec.ownProgress !== true) o.onProgress?.({ done: start + size, total: n, phase: spec.name });
      if (start + size < n) await yieldToEventLoop();
    }
    if (parts.length === 1) return parts.pop() as tf.Tensor3D;
    return tf.concat(parts, 0) as tf.Tensor3D;
  } finally {
    tf.dispose(parts);
  }
}
