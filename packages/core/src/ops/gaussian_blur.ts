import * as tf from '@tensorflow/tfjs-core';
import { gaussianWeights } from './gaussian_kernel.js';
import { reflectPadAxis } from './reflect_pad.js';
import { assertRank, assertSpatial } from './validate.js';

/** Options of {@link gaussianBlur} and {@link blurMaps}. */
export interface GaussianBlurOptions {
  /** Odd kernel side in pixels (>= 1; 1 is the identity). May exceed the image. */
  kernelSize: number;
  /** Standard deviation in pixels, > 0. */
  sigma: number;
}

/**
 * Largest side blurred by matrix products ({@link blurByMatrices}) rather than two 1-channel
 * convolutions: an `n`-sided blur matrix costs `n` multiply-adds per pixel and direction against
 * the kernel's `k`, but runs as one dense matrix product, which wasm (XNNPACK) computes ~30× faster
 * per multiply-add than a convolution with one input and one output channel (224² RGB, k = 51:
 * 17 ms as convolutions).
 */
const BLUR_MATRIX_MAX_SIDE = 512;

/** Index `i` reflected into `[0, n)` without repeating the edge (period 2(n − 1), as {@link reflectPadAxis}). */
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const j = ((i % period) + period) % period;
  return j > n - 1 ? period - j : j;
}

/**
 * The `[n, n]` matrix Bᵀ of a 1-D blur with reflect-101 borders: `(row · Bᵀ)[i] = Σ_t weights[t] ·
 * row[reflect(i + t − p)]`, accumulated in float64.
 */
function blurMatrixT(weights: ArrayLike<number>, n: number): tf.Tensor2D {
  const k = weights.length;
  const p = (k - 1) / 2;
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) m[reflectIndex(i + t - p, n) * n + i] += weights[t] as number;
  }
  return tf.tensor2d(Float32Array.from(m), [n, n]);
}

/** The separable blur as two matrix products (width, then height), channels kept apart. */
function blurByMatrices(x: tf.Tensor4D, weights: ArrayLike<number>, n: number, h: number, w: number, c: number): tf.Tensor4D {
  // Width: rows of [n·h·c, w] times Bᵀ_w.
  const alongW = tf.matMul(tf.reshape(tf.transpose(x, [0, 1, 3, 2]), [n * h * c, w]), blurMatrixT(weights, w)); // [n, h, c, w]
  // Height: rows of [n·c·w, h] times Bᵀ_h.
  const rowsH = tf.reshape(tf.transpose(tf.reshape(alongW, [n, h, c, w]), [0, 2, 3, 1]), [n * c * w, h]); // [n, c, w, h]
  const alongH = tf.reshape(tf.matMul(rowsH, blurMatrixT(weights, h)), [n, c, w, h]);
  return tf.transpose(alongH, [0, 3, 2, 1]) as tf.Tensor4D;
}

/**
 * Separable Gaussian blur of `[N, H, W, C]`, each channel on its own, 'same'-size
 * output.
 *
 * - Kernel: {@link gaussianKernel1d}`(kernelSize, sigma)`, applied as a 1×k
 *   convolution along the width and then a k×1 convolution along the height
 *   (exactly the 2-D kernel `g gᵀ`, at 2k instead of k² multiply-adds per pixel).
 * - Border: REFLECT padding without repeating the edge pixel (`reflectPad`,
 *   OpenCV `BORDER_REFLECT_101`), continued periodically when the kernel is
 *   larger than the image, so any kernel works on any image (a 51-tap kernel on
 *   a 7×7 image included) and a constant image stays constant.
 * - Sides up to 512: each direction is one matrix product with the blur's
 *   `n × n` matrix (border reflections folded in), channels kept apart; larger
 *   images: channels are folded into the batch (`[N·C, H, W, 1]`) and convolved
 *   with plain `conv2d`. Both are differentiable on the wasm backend (it lacks
 *   the depthwise backprop kernels).
 *
 * Used with kernel 51 σ 50 (Group-CAM, insertion preset `groupcam`), 55 σ 11
 * (masking-model baseline), 11 σ 5 (SESS smoothing, insertion preset `rise`).
 *
 * @param x - `[N, H, W, C]`, any C.
 * @param opts - see {@link GaussianBlurOptions}.
 * @returns float32 `[N, H, W, C]`.
 * @throws SaliencyError `BAD_RANK`, `IMAGE_TOO_SMALL`, `BAD_OPTION` (even size, sigma <= 0).
 *
 * @example
 * ```ts
 * const blurred = gaussianBlur(images, { kernelSize: 51, sigma: 50 });
 * ```
 */
export function gaussianBlur(x: tf.Tensor4D, opts: GaussianBlurOptions): tf.Tensor4D {
  assertRank(x, [4], 'gaussianBlur: x', '[N, H, W, C]');
  const [n, h, w, c] = x.shape;
  assertSpatial(h, w, 'gaussianBlur: x', x.shape);
  const k = opts?.kernelSize;
  const weights = gaussianWeights(k, opts?.sigma, 'gaussianBlur');
  return tf.tidy(() => {
    let t = tf.cast(x, 'float32');
    if (k === 1 || n === 0 || c === 0) return t;
    if (h <= BLUR_MATRIX_MAX_SIDE && w <= BLUR_MATRIX_MAX_SIDE) return blurByMatrices(t as tf.Tensor4D, weights, n, h, w, c);
    if (c > 1) t = tf.reshape(tf.transpose(t, [0, 3, 1, 2]), [n * c, h, w, 1]);
    let t4 = t as tf.Tensor4D;
    const p = (k - 1) / 2;
    const kx = tf.tensor4d(weights, [1, k, 1, 1], 'float32');
    const ky = tf.tensor4d(weights, [k, 1, 1, 1], 'float32');
    t4 = tf.conv2d(reflectPadAxis(t4, 2, p, p), kx, 1, 'valid');
    t4 = tf.conv2d(reflectPadAxis(t4, 1, p, p), ky, 1, 'valid');
    if (c > 1) return tf.transpose(tf.reshape(t4, [n, c, h, w]), [0, 2, 3, 1]) as tf.Tensor4D;
    return t4;
  });
}

/**
 * {@link gaussianBlur} for a batch of single-channel maps `[N, H, W]`.
 *
 * @param maps - `[N, H, W]`.
 * @param opts - see {@link GaussianBlurOptions}.
 * @returns float32 `[N, H, W]`.
 * @throws SaliencyError as {@link gaussianBlur}.
 *
 * @example
 * ```ts
 * const smooth = blurMaps(maps, { kernelSize: 11, sigma: 5 }); // SESS step 6
 * ```
 */
export function blurMaps(maps: tf.Tensor3D, opts: GaussianBlurOptions): tf.Tensor3D {
  assertRank(maps, [3], 'blurMaps: maps', '[N, H, W]');
  assertSpatial(maps.shape[1], maps.shape[2], 'blurMaps: maps', maps.shape);
  return tf.tidy(() => tf.squeeze(gaussianBlur(tf.expandDims(maps, 3) as tf.Tensor4D, opts), [3]) as tf.Tensor3D);
}
