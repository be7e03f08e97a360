import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, SaliencyMethod, Targets } from '@saliency/core/base';
import { camMaps, checkCamOptions, type CamBatch, type CamOptions, type CamSpec } from './cam_base.js';
import { leadingEigenvector } from './eigen.js';

/** Options of {@link eigenCam}. */
export interface EigenCamOptions extends CamOptions {}

/**
 * First-principal-component projections of a batch of activations `[b, h, w, k]` → `[b, h, w, 1]`.
 * Per image: X = the `h·w × k` activation matrix with each channel's mean over positions
 * subtracted; p = X·v₁ with v₁ its first right singular vector (the leading eigenvector of the
 * smaller of XᵀX and XXᵀ: the Gram matrices by one matMul per image on the device, its eigenvector in
 * float64 on the CPU after one read-back); the sign
 * of p is chosen so that p correlates positively with the mean activation over channels at each
 * position (a singular vector's sign is arbitrary).
 */
async function principalProjections(features: tf.Tensor4D): Promise<tf.Tensor4D> {
  const [b, h, w, k] = features.shape;
  const n = h * w;
  const positionsSide = n <= k;
  // On the device: the centred activations, their Gram matrix on the smaller side (one matMul
  // per image), and the mean activation over channels (for the sign). Only the Gram matrices come back
  // (and X itself when the channels' side is used, for the projection X·v₁).
  const x = tf.tidy(() => {
    const flat = tf.reshape(features, [b, n, k]) as tf.Tensor3D;
    return tf.sub(flat, tf.mean(flat, 1, true)) as tf.Tensor3D;
  });
  let gram: tf.Tensor | null = null;
  let means: tf.Tensor;
  try {
    // Per image, with the transpose made explicit: wasm's batched matMul (or a transposed operand)
    // runs these thin shapes 2-2.5x slower (8 × [49, 1280] on MobileNetV2: 27 ms against 11-13 ms).
    gram = tf.tidy(() => tf.stack(tf.unstack(x).map((m) =>
      positionsSide ? tf.matMul(m as tf.Tensor2D, tf.transpose(m as tf.Tensor2D)) : tf.matMul(tf.transpose(m as tf.Tensor2D), m as tf.Tensor2D))));
    means = tf.mean(features, 3);
  } catch (e) {
    tf.dispose([x, ...(gram == null ? [] : [gram])]);
    throw e;
  }
  const centred: tf.Tensor3D | null = positionsSide ? null : x;
  if (positionsSide) x.dispose();
  let g: Float32Array;
  let xs: Float32Array | null = null;
  let ms: Float32Array;
  try {
    [g, ms] = (await Promise.all([gram.data(), means.data()])) as [Float32Array, Float32Array];
    if (centred != null) xs = (await centred.data()) as Float32Array;
  } finally {
    tf.dispose([gram, means, ...(centred == null ? [] : [centred])]);
  }
  const out = new Float32Array(b * n);
  const d = positionsSide ? n : k;
  for (let i = 0; i < b; i++) {
    const gi = Float64Array.from(g.subarray(i * d * d, (i + 1) * d * d));
    const p = new Float64Array(n);
    if (positionsSide) {
      const u = leadingEigenvector(gi, n); // X Xᵀ: its leading eigenvector is u₁ = X v₁ / σ₁
      let lambda = 0; // σ₁² = uᵀ G u, so the projection is u·σ₁ = X v₁ exactly
      for (let r = 0; r < n; r++) { let acc = 0; for (let s = 0; s < n; s++) acc += gi[r * n + s] * u[s]; lambda += u[r] * acc; }
      const sigma = Math.sqrt(Math.max(lambda, 0));
      for (let r = 0; r < n; r++) p[r] = u[r] * sigma;
    } else {
      const v = leadingEigenvector(gi, k); // Xᵀ X: its leading eigenvector is v₁
      const xi = (xs as Float32Array).subarray(i * n * k, (i + 1) * n * k);
      for (let r = 0; r < n; r++) { let acc = 0; for (let c = 0; c < k; c++) acc += xi[r * k + c] * v[c]; p[r] = acc; }
    }
    const mi = ms.subarray(i * n, (i + 1) * n);
    let mMean = 0, pMean = 0;
    for (let r = 0; r < n; r++) { mMean += mi[r]; pMean += p[r]; }
    mMean /= n; pMean /= n;
    let cov = 0;
    for (let r = 0; r < n; r++) cov += (p[r] - pMean) * (mi[r] - mMean);
    const sign = cov < 0 ? -1 : 1;
    for (let r = 0; r < n; r++) out[i * n + r] = sign * p[r];
  }
  return tf.tensor4d(out, [b, h, w, 1]);
}

const EIGEN_CAM: CamSpec = {
  name: 'eigencam',
  gradients: false,
  cam: ({ features }: CamBatch) => principalProjections(features),
};

/**
 * Eigen-CAM (Muhammad & Yeasin, IJCNN 2020): the layer's activations projected on their first
 * principal component, per image — with X the `h·w × k` activation matrix (each channel's mean
 * over positions subtracted) and X = UΣVᵀ, map = ReLU(X·v₁), bilinearly up-sampled and min-max
 * normalised. The sign of v₁ is fixed so that the map correlates positively with the mean
 * activation over channels. Class-agnostic (the target does not change the map) and
 * GRADIENT-FREE: one forward pass to the layer, so it works on graph models and backends
 * without gradient kernels. The decomposition runs in float64 on the CPU from one read-back of
 * the `min(h·w, k)`-sided Gram matrix per batch (cheap at CAM layers: 7×7 positions).
 *
 * @throws SaliencyError `BAD_OPTION` (at once); `UNKNOWN_LAYER`, `LAYER_NOT_4D`, `ABORTED` and
 *   the image/target codes from `explain`.
 *
 * @example
 * ```ts
 * const maps = await eigenCam({ layer: 'out_relu' }).explain(classifier, images, 'top');
 * ```
 */
export function eigenCam(opts: EigenCamOptions = {}): SaliencyMethod {
  const o = checkCamOptions(opts, 'eigenCam');
  return {
    name: 'eigencam',
    explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      return camMaps(classifier, images, targets, EIGEN_CAM, o);
    },
  };
}
