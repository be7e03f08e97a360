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
 * - Channels are folded into the batch (`[N·C, H, W, 1]`) and convolved with
 *   plain `conv2d`, which is equivalent to a depthwise convolution but also
 *   differentiable on the wasm backend (it lacks the depthwise backprop kernels).
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
