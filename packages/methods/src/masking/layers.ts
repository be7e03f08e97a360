/*
 * The few differentiable building blocks of the masking model's decoder, written
 * with tfjs-core ops only (every one has a gradient on every backend).
 * Internal to @saliency/methods.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Parameters of one batch normalisation: scale, offset and running statistics. */
export interface BatchNormParams {
  gamma: tf.Variable;
  beta: tf.Variable;
  /** Running mean (not trained by gradients; updated from batch statistics). */
  mean: tf.Variable;
  /** Running variance (idem). */
  variance: tf.Variable;
}

/** Batch statistics of one batch-norm layer, kept for the running-average update. */
export interface BatchStats {
  params: BatchNormParams;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  /** Values per channel the statistics were taken over (N·h·w). */
  count: number;
}

/** ε of batch normalisation (PyTorch's default, as the reference code). */
export const BATCH_NORM_EPSILON = 1e-5;
/** Weight of the new batch statistics in the running averages (PyTorch's momentum 0.1). */
export const BATCH_NORM_MOMENTUM = 0.1;

/**
 * Batch normalisation over `[N, h, w]` per channel. Training mode uses the batch's
 * statistics (and hands them, kept, to `collect`); inference uses the running ones.
 */
export function batchNorm(x: tf.Tensor4D, p: BatchNormParams, training: boolean, collect?: (s: BatchStats) => void): tf.Tensor4D {
  let mean: tf.Tensor;
  let variance: tf.Tensor;
  if (training) {
    const m = tf.moments(x, [0, 1, 2]);
    mean = m.mean;
    variance = m.variance;
    const [n, h, w] = x.shape;
    collect?.({ params: p, mean: tf.keep(mean) as tf.Tensor1D, variance: tf.keep(variance) as tf.Tensor1D, count: n * h * w });
  } else {
    mean = p.mean;
    variance = p.variance;
  }
  const scale = tf.mul(tf.rsqrt(tf.add(variance, BATCH_NORM_EPSILON)), p.gamma);
  return tf.add(tf.mul(tf.sub(x, mean), scale), p.beta) as tf.Tensor4D;
}

/**
 * Moves the running statistics towards the batch statistics:
 * `running ← (1 − m)·running + m·batch` with m = {@link BATCH_NORM_MOMENTUM}, the
 * variance unbiased by `count/(count − 1)` as PyTorch does. Disposes the kept stats.
 */
export function updateRunningStats(stats: readonly BatchStats[]): void {
  tf.tidy(() => {
    for (const s of stats) {
      const unbias = s.count > 1 ? s.count / (s.count - 1) : 1;
      s.params.mean.assign(tf.add(tf.mul(s.params.mean, 1 - BATCH_NORM_MOMENTUM), tf.mul(s.mean, BATCH_NORM_MOMENTUM)));
      s.params.variance.assign(tf.add(tf.mul(s.params.variance, 1 - BATCH_NORM_MOMENTUM), tf.mul(s.variance, BATCH_NORM_MOMENTUM * unbias)));
    }
  });
  for (const s of stats) tf.dispose([s.mean, s.variance]);
}

/**
 * Pixel shuffle ×2 (sub-pixel up-sampling), the values of `tf.depthToSpace(x, 2)`
 * in NHWC: `[N, h, w, 4c] → [N, 2h, 2w, c]` with
 * `out[n, 2i + a, 2j + b, k] = x[n, i, j, (2a + b)·c + k]`. Written as a reshape
 * and a transpose because tfjs registers no gradient for DepthToSpace.
 */
export function pixelShuffle2(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, d] = x.shape;
  const c = d / 4;
  return tf.tidy(() => {
    const t = tf.transpose(tf.reshape(x, [n, h, w, 2, 2 * c]), [0, 1, 3, 2, 4]);
    return tf.reshape(t, [n, 2 * h, 2 * w, c]) as tf.Tensor4D;
  });
}

/**
 * 'same' convolution with stride 1 and an odd k×k kernel `[k, k, cin, cout]`, the
 * values of `tf.conv2d(x, kernel, 1, 'same')`, computed as im2col (k² shifted slices
 * of the zero-padded input, concatenated on the channel axis in the kernel's
 * (row, column, channel) order) and one matrix product, so that its gradients are
 * slices, pads and matMuls.
 */
export function conv2dIm2col(x: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, cin] = x.shape;
  const [k, , , cout] = kernel.shape;
  return tf.tidy(() => {
    if (k === 1) return tf.reshape(tf.matMul(tf.reshape(x, [n * h * w, cin]), tf.reshape(kernel, [cin, cout])), [n, h, w, cout]) as tf.Tensor4D;
    const p = (k - 1) / 2;
    const padded = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]);
    const cols: tf.Tensor[] = [];
    for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) cols.push(tf.slice(padded, [0, dy, dx, 0], [n, h, w, cin]));
    const patches = tf.reshape(tf.concat(cols, 3), [n * h * w, k * k * cin]);
    return tf.reshape(tf.matMul(patches, tf.reshape(kernel, [k * k * cin, cout])), [n, h, w, cout]) as tf.Tensor4D;
  });
}

/**
 * The decoder's 'same' stride-1 convolution. On the cpu backend it is
 * {@link conv2dIm2col}: tfjs's cpu Conv2DBackpropFilter kernel is about a hundred
 * times slower than the equivalent matMul. Elsewhere it is `tf.conv2d` (native
 * kernels; on wasm the filter gradient is core's bridged composite of a Conv2D).
 */
export function conv2dSame(x: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  return tf.getBackend() === 'cpu' ? conv2dIm2col(x, kernel) : tf.conv2d(x, kernel, 1, 'same');
}
