import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '../errors.js';

/**
 * How to turn the user's pixels into what the model expects:
 * `v = (x − inLo) / (inHi − inLo) · (mHi − mLo) + mLo`, then `(v − mean) / std`.
 *
 * @example
 * ```ts
 * // images in 0–255, model trained on (x − mean) / 255
 * const spec: PreprocessSpec = { inputRange: [0, 255], modelRange: [0, 255], mean: [122.782, 117.001, 104.298], std: 255 };
 * ```
 */
export interface PreprocessSpec {
  /** Range of the pixels the caller passes. Default `[0, 255]`. */
  inputRange?: readonly [number, number];
  /** Range the model expects before mean/std. Default: the same as `inputRange`. */
  modelRange?: readonly [number, number];
  /** Subtracted per channel (or one value for all) after the range change. Default 0. */
  mean?: number | readonly number[];
  /** Divides per channel (or one value for all) after subtracting the mean. Default 1. */
  std?: number | readonly number[];
}

/** A preprocessing step given either declaratively or as a function of user-range images. */
export type Preprocess = PreprocessSpec | ((x: tf.Tensor4D) => tf.Tensor4D);

/** The caller's pixel range that a preprocess implies (`[0, 255]` for functions unless told otherwise). */
export function inputRangeOf(p: Preprocess | undefined, fallback: readonly [number, number] = [0, 255]): readonly [number, number] {
  return typeof p === 'object' && p.inputRange != null ? p.inputRange : fallback;
}

function checkVector(v: number | readonly number[], name: string, channels: number): void {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new SaliencyError('BAD_OPTION', `preprocess.${name} must be finite, got ${v}.`);
    return;
  }
  if (v.length !== channels || v.some((e) => !Number.isFinite(e))) {
    throw new SaliencyError('BAD_OPTION', `preprocess.${name} must be one finite number or ${channels} of them, got [${v.join(', ')}].`);
  }
}

/**
 * Builds the preprocessing function for a model with `channels` input channels.
 * Validates the spec up front so that errors surface when the classifier is made.
 * The result is always float32 (int32 images are cast).
 */
export function makePreprocess(p: Preprocess | undefined, channels: number): (x: tf.Tensor4D) => tf.Tensor4D {
  // Images may come as int32 (tf.browser.fromPixels, tf.node.decodeImage): models take float32.
  const float = (x: tf.Tensor4D): tf.Tensor4D => (x.dtype === 'float32' ? x : tf.cast(x, 'float32'));
  if (typeof p === 'function') return (x) => tf.tidy(() => p(float(x)));
  const spec = p ?? {};
  const [inLo, inHi] = spec.inputRange ?? [0, 255];
  const [mLo, mHi] = spec.modelRange ?? [inLo, inHi];
  if (!(inHi > inLo) || !(mHi > mLo)) {
    throw new SaliencyError('BAD_OPTION', `preprocess ranges must be increasing, got inputRange [${inLo}, ${inHi}] and modelRange [${mLo}, ${mHi}].`);
  }
  const mean = spec.mean ?? 0;
  const std = spec.std ?? 1;
  checkVector(mean, 'mean', channels);
  checkVector(std, 'std', channels);
  if ((typeof std === 'number' ? [std] : std).some((s) => s === 0)) {
    throw new SaliencyError('BAD_OPTION', 'preprocess.std must not contain 0.');
  }
  const scale = (mHi - mLo) / (inHi - inLo);
  const identity = scale === 1 && inLo === mLo && mean === 0 && std === 1;
  return (x) => {
    if (identity) return x.dtype === 'float32' ? tf.clone(x) : tf.cast(x, 'float32');
    return tf.tidy(() => {
      x = float(x);
      let v: tf.Tensor4D = scale === 1 && inLo === mLo ? x : tf.add(tf.mul(tf.sub(x, inLo), scale), mLo);
      if (mean !== 0) v = tf.sub(v, typeof mean === 'number' ? mean : tf.tensor1d(mean as number[]));
      if (std !== 1) v = tf.div(v, typeof std === 'number' ? std : tf.tensor1d(std as number[]));
      return v;
    });
  };
}
