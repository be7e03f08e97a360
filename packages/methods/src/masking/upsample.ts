/*
 * Differentiable bilinear resizing of mask batches as two matrix products.
 *
 * tfjs 4.22's cpu kernel ResizeBilinearGrad ignores `halfPixelCenters`, so the
 * gradient of `tf.image.resizeBilinear(…, halfPixelCenters = true)` is wrong on
 * that backend. Writing the same resize as `R_y · M · R_xᵀ` (with the
 * interpolation matrices of tf.image.resizeBilinear's half-pixel mode) gives
 * identical values and an exact gradient on every backend (it is a matMul).
 * Internal to @saliency/methods.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * The `[out, n]` matrix of tf.image.resizeBilinear with half-pixel centres
 * along one axis: source coordinate `s = (j + 0.5)·n/out − 0.5`, lower index
 * `max(0, ⌊s⌋)`, upper index `min(n − 1, ⌈s⌉)`, weights `1 − t` and `t` with
 * `t = s − lower` (both indices collapse to the edge sample outside the grid).
 */
export function bilinearMatrix(n: number, out: number): Float32Array {
  const m = new Float32Array(out * n);
  const ratio = n / out;
  for (let j = 0; j < out; j++) {
    const s = ratio * (j + 0.5) - 0.5;
    const lo = Math.max(0, Math.floor(s));
    const hi = Math.min(n - 1, Math.ceil(s));
    const t = s - lo;
    m[j * n + lo] += 1 - t;
    m[j * n + hi] += t;
  }
  return m;
}

/** The two interpolation matrices of a resize from `[h, w]` to `[H, W]`. */
export interface ResizeTables {
  /** `[H, h]`. */
  ry: tf.Tensor2D;
  /** `[W, w]`. */
  rx: tf.Tensor2D;
}

/** Builds the {@link ResizeTables} for `[h, w] → [H, W]` (caller disposes them). */
export function resizeTables(from: readonly [number, number], to: readonly [number, number]): ResizeTables {
  const [h, w] = from;
  const [H, W] = to;
  return {
    ry: tf.tensor2d(bilinearMatrix(h, H), [H, h]),
    rx: tf.tensor2d(bilinearMatrix(w, W), [W, w]),
  };
}

/**
 * Bilinear resize of masks `[N, h, w]` to `[N, H, W]` with half-pixel
 * centres — the values of `tf.image.resizeBilinear(m, [H, W], false, true)` —
 * as plain 2-D matrix products (differentiable on every backend).
 */
export function resizeMasks(m: tf.Tensor3D, tables: ResizeTables): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, h, w] = m.shape;
    const H = tables.ry.shape[0];
    const W = tables.rx.shape[0];
    // Rows: [H, h] · [h, N·w] → [H, N, w].
    const cols = tf.reshape(tf.transpose(m, [1, 0, 2]), [h, n * w]);
    const rows = tf.transpose(tf.reshape(tf.matMul(tables.ry, cols), [H, n, w]), [1, 0, 2]);
    // Columns: [N·H, w] · [w, W] → [N, H, W].
    return tf.reshape(tf.matMul(tf.reshape(rows, [n * H, w]), tables.rx, false, true), [n, H, W]) as tf.Tensor3D;
  });
}
