import type * as tf from '@tensorflow/tfjs-core';

/**
 * The class to explain for each image: one index per image, or `'top'` for the
 * class with the highest score on the whole image.
 */
export type Targets = number | readonly number[] | 'top';

/** Progress of a long computation. */
export interface Progress {
  /** Units of work finished. */
  done: number;
  /** Units of work in all. */
  total: number;
  /** What is being done now (for example `'forward'`, `'masks'`). */
  phase: string;
}

/** White-box access to one intermediate layer of a classifier. */
export interface LayerAccess {
  /** The layer's name. */
  readonly name: string;
  /** The layer's activations for already-preprocessed images, `[N, h, w, k]`. */
  features(x: tf.Tensor4D): tf.Tensor4D;
  /**
   * Logits computed from given activations of this layer. `x` is the same
   * preprocessed input the activations came from; it feeds any branch that
   * skips past the layer, so skip connections stay correct.
   */
  head(features: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor2D;
  /**
   * Present when the head begins with operations that act on each channel alone and keep an
   * all-zero channel at zero (pooling, ReLU, dropout, a flatten of 1×1), ending reduced over space
   * to `[N, k]`, and the input reaches the output only through this layer. Then
   * `head(f, x)` = `reduced.rest(reduced.reduce(f))`, and zeroing channel j of `f` zeroes column j
   * of `reduce(f)`: Ablation-CAM scores its ablated channels on `[n, k]` rows instead of
   * `[n, h, w, k]` copies. Absent otherwise (the whole head is then used).
   */
  readonly reduced?: ReducedHead;
}

/** A layer's head split after a per-channel reduction over space (see {@link LayerAccess.reduced}). */
export interface ReducedHead {
  /** The layer's activations `[N, h, w, k]` reduced to `[N, k]` by the head's per-channel operations. */
  reduce(features: tf.Tensor4D): tf.Tensor2D;
  /** Logits `[N, numClasses]` from reduced activations `[N, k]`: the rest of the head. */
  rest(reduced: tf.Tensor2D): tf.Tensor2D;
}

/**
 * A wrapped image classifier: what every saliency method receives.
 * Images given to `logits`/`probabilities` are in the user's pixel range and
 * already at `inputSize`; the classifier applies its own preprocessing.
 */
export interface Classifier {
  /** Model input `[height, width]`. */
  readonly inputSize: readonly [number, number];
  /** Input channels (1 or 3). */
  readonly channels: number;
  /** Number of classes. */
  readonly numClasses: number;
  /** Optional human-readable class names, `numClasses` long. */
  readonly classNames?: readonly string[];
  /** The pixel range the caller's images are in (for example `[0, 255]`). */
  readonly inputRange: readonly [number, number];
  /** Maps the user's pixel range to what the model expects. */
  preprocess(x: tf.Tensor4D): tf.Tensor4D;
  /** Pre-softmax scores `[N, numClasses]` for user-range images. */
  logits(x: tf.Tensor4D): tf.Tensor2D;
  /** Softmax of the logits. */
  probabilities(x: tf.Tensor4D): tf.Tensor2D;
  /**
   * White-box access to a layer (by name, or `'auto'` for the last layer with
   * a 4-D output larger than 1×1 — a globally pooled 1×1 output gives a
   * constant CAM). Throws `UNKNOWN_LAYER` / `LAYER_NOT_4D`.
   */
  at(layer: string): LayerAccess;
  /**
   * Activations of several layers (names as `at()` takes them, `'auto'` included) for
   * already-preprocessed images, from ONE forward pass: what `layers.map((l) =>
   * at(l).features(x))` gives, without running the shared part of the model once per layer.
   * Absent on classifiers that cannot share the pass; use `at()` then.
   */
  layerFeatures?(layers: readonly string[], x: tf.Tensor4D): tf.Tensor4D[];
  /** Names of the layers `at()` accepts whose outputs are 4-D, in order. */
  layerNames(): string[];
}

/**
 * A saliency method: Captum-style single entry point.
 * Returns maps `[N, H, W]` in [0, 1] at the images' resolution; the caller owns
 * (and must dispose) the returned tensor.
 */
export interface SaliencyMethod {
  /** A short name for reports, for example `'gradcam'`. */
  readonly name: string;
  /**
   * Compute saliency maps.
   * @param classifier - the wrapped model.
   * @param images - `[N, H, W, C]` at the classifier's input size, in the user's pixel range.
   * @param targets - class per image, or `'top'`.
   */
  explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D>;
}

/** Options every long-running method accepts. */
export interface LongRunningOptions {
  /** Called after each batch. */
  onProgress?: (p: Progress) => void;
  /** Stops the work between batches; the promise rejects with code `ABORTED`. */
  signal?: AbortSignal;
}

/** A plain image: interleaved pixels, row-major, `channels` per pixel (default 3 or 4 inferred). */
export interface ImageLike {
  /** Pixel values, 0–255 for integer arrays. */
  data: Uint8Array | Uint8ClampedArray | Float32Array | number[];
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Values per pixel; inferred from the data length when absent (RGBA is reduced to RGB). */
  channels?: number;
}
