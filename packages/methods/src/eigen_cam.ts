import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, SaliencyMethod, Targets } from '@saliency/core/base';
import { camMaps, checkCamOptions, type CamBatch, type CamOptions, type CamSpec } from './cam_base.js';
import { leadingEigenvector } from './eigen.js';

/** Options of {@link eigenCam}. */
export interface EigenCamOptions extends CamOptions {}

/**
 * Largest trace(G) / trace(JGJ) for which a float32 Gram of UNcentred activations is centred on the
 * host: the rounding of G, relative to the centred Gram, grows with this ratio. It is 1.05–1.6 at
 * the bundled models' CAM layers, where the maps come within 4e-7 of those centred on the device;
 * above it (activations far from zero), a batch is redone with the activations centred first.
 */
const HOST_CENTRING_MAX_RATIO = 8;

/** Per image `[b, d, d]` Gram matrices on the smaller side, one matMul per image, read back. */
async function gramsOnDevice(x: tf.Tensor3D, positionsSide: boolean): Promise<Float32Array> {
  // Per image, with the transpose made explicit: wasm's batched matMul (or a transposed operand)
  // runs these thin shapes 2-2.5x slower (8 × [49, 1280] on MobileNetV2: 24 ms against 6 ms).
  // Images are taken with tf.slice, not tf.unstack: wasm's Unpack copies the whole batch out of
  // the heap once per image (27 ms against 6 ms for the whole step on that batch).
  const [b, r, c] = x.shape;
  const gram = tf.tidy(() => tf.stack(Array.from({ length: b }, (_, i) => {
    const m = tf.reshape(tf.slice(x, [i, 0, 0], [1, r, c]), [r, c]) as tf.Tensor2D;
    return positionsSide ? tf.matMul(m, tf.transpose(m)) : tf.matMul(tf.transpose(m), m);
  })));
  try {
    return (await gram.data()) as Float32Array;
  } finally {
    gram.dispose();
  }
}

/** The activations `[b, n, k]` with each channel's mean over positions subtracted. */
function centred(features: tf.Tensor4D): tf.Tensor3D {
  const [b, h, w, k] = features.shape;
  return tf.tidy(() => {
    const flat = tf.reshape(features, [b, h * w, k]) as tf.Tensor3D;
    return tf.sub(flat, tf.mean(flat, 1, true)) as tf.Tensor3D;
  });
}

/**
 * J G J (J = I − 11ᵀ/n) in place for each of the `b` `n × n` Grams in `g`, in float64: the Gram of
 * the centred activations from that of the raw ones (X_c X_cᵀ = J X Xᵀ J). Returns the largest
 * trace(G) / trace(JGJ) (its rounding bound), Infinity when a centred trace is 0.
 */
function centreGramsOnHost(g: Float64Array, b: number, n: number): number {
  let worst = 0;
  for (let i = 0; i < b; i++) {
    const o = i * n * n;
    const rows = new Float64Array(n);
    let all = 0, trace = 0;
    for (let r = 0; r < n; r++) {
      let acc = 0;
      for (let c = 0; c < n; c++) acc += g[o + r * n + c];
      rows[r] = acc / n;
      all += acc;
      trace += g[o + r * n + r];
    }
    all /= n * n;
    let centredTrace = 0;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) g[o + r * n + c] += all - rows[r] - rows[c]; // G is symmetric: column means = row means
      centredTrace += g[o + r * n + r];
    }
    worst = Math.max(worst, centredTrace > 0 ? trace / centredTrace : Infinity);
  }
  return worst;
}

/** u·σ₁ = X v₁ from X Xᵀ's leading eigenvector u (σ₁² = uᵀ G u), for one image's `n × n` Gram `gi`. */
function projectionFromPositions(gi: Float64Array, n: number): Float64Array {
  const u = leadingEigenvector(gi, n);
  let lambda = 0;
  for (let r = 0; r < n; r++) { let acc = 0; for (let c = 0; c < n; c++) acc += gi[r * n + c] * u[c]; lambda += u[r] * acc; }
  const sigma = Math.sqrt(Math.max(lambda, 0));
  return u.map((v) => v * sigma);
}

/**
 * First-principal-component projections of a batch of activations `[b, h, w, k]` → `[b, h, w, 1]`.
 * Per image: X = the `h·w × k` activation matrix with each channel's mean over positions
 * subtracted; p = X·v₁ with v₁ its first right singular vector (the leading eigenvector of the
 * smaller of XᵀX and XXᵀ, in float64 on the CPU after one read-back of the Gram matrices, made by
 * one matMul per image on the device); the sign of p is chosen so that p correlates positively
 * with the mean activation over channels at each position (a singular vector's sign is arbitrary).
 * On the positions side (h·w ≤ k, as at CAM layers) the centring is done on the host, on the
 * Gram (J G J), which saves a broadcast subtraction of all activations (wasm: ~1 ms per
 * MobileNetV2 image, 7 % of Eigen-CAM); a batch whose ratio trace(G) / trace(JGJ) exceeds
 * {@link HOST_CENTRING_MAX_RATIO} is redone with the activations centred first.
 */
async function principalProjections(features: tf.Tensor4D): Promise<tf.Tensor4D> {
  const [b, h, w, k] = features.shape;
  const n = h * w;
  const positionsSide = n <= k;
  const meansT = tf.mean(features, 3);
  let ms: Float32Array;
  let g: Float64Array;
  let xs: Float32Array | null = null;
  try {
    if (positionsSide) {
      const raw = tf.reshape(features, [b, n, k]) as tf.Tensor3D;
      try {
        g = Float64Array.from(await gramsOnDevice(raw, true));
      } finally {
        raw.dispose();
      }
      if (centreGramsOnHost(g, b, n) > HOST_CENTRING_MAX_RATIO) {
        const x = centred(features);
        try {
          g = Float64Array.from(await gramsOnDevice(x, true));
        } finally {
          x.dispose();
        }
      }
    } else {
      const x = centred(features);
      try {
        g = Float64Array.from(await gramsOnDevice(x, false));
        xs = (await x.data()) as Float32Array;
      } finally {
        x.dispose();
      }
    }
    ms = (await meansT.data()) as Float32Array;
  } finally {
    meansT.dispose();
  }
  const out = new Float32Array(b * n);
  const d = positionsSide ? n : k;
  for (let i = 0; i < b; i++) {
    const gi = g.subarray(i * d * d, (i + 1) * d * d);
    let p: Float64Array;
    if (positionsSide) {
      p = projectionFromPositions(gi, n);
    } else {
      const v = leadingEigenvector(gi, k); // Xᵀ X: its leading eigenvector is v₁
      const xi = (xs as Float32Array).subarray(i * n * k, (i + 1) * n * k);
      p = new Float64Array(n);
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
  classAgnostic: true,
  cam: ({ features }: CamBatch) => principalProjections(features),
};

/**
 * Eigen-CAM (Muhammad & Yeasin, IJCNN 2020): the layer's activations projected on their first
 * principal component, per image — with X the `h·w × k` activation matrix (each channel's mean
 * over positions subtracted) and X = UΣVᵀ, map = ReLU(X·v₁), bilinearly up-sampled and min-max
 * normalised. The sign of v₁ is fixed so that the map correlates positively with the mean
 * activation over channels. Class-agnostic (the target does not change the map, and `'top'`
 * costs no extra forward pass; class indices given are still checked) and
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
