// Gradients through the ops that sit inside differentiated objectives
// (masking-model training, meaningful perturbation): composite, totalVariation,
// gaussianBlur, resizeMaps, minMaxNormalize — on cpu, and the same on wasm.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradients (tfjs-core alone registers none)
import {
  composite,
  gaussianBlur,
  minMaxNormalize,
  resizeMaps,
  totalVariation,
} from '../../packages/core/src/ops/index.js';

await tf.setBackend('cpu');

function rand(n: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) {
      throw new Error(`index ${i}: got ${a}, expected ${e} (tol ${tol})`);
    }
  }
}

function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const r = ((i % period) + period) % period;
  return r < n ? r : period - r;
}

function gaussRef(size: number, sigma: number): number[] {
  const c = (size - 1) / 2;
  const g = Array.from({ length: size }, (_, i) => Math.exp(-((i - c) ** 2) / (2 * sigma * sigma)));
  const s = g.reduce((a, b) => a + b, 0);
  return g.map((v) => v / s);
}

/** Gradient of Σ r ⊙ blur(x) w.r.t. x for one [H, W] channel: the adjoint of the reference blur. */
function blurAdjoint(r: Float32Array, h: number, w: number, size: number, sigma: number): Float64Array {
  const g = gaussRef(size, sigma);
  const p = (size - 1) / 2;
  const out = new Float64Array(h * w);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++)
      for (let u = 0; u < size; u++)
        for (let v = 0; v < size; v++) {
          out[reflectIndex(i + u - p, h) * w + reflectIndex(j + v - p, w)] += g[u] * g[v] * r[i * w + j];
        }
  return out;
}

/** Runs a gradient on a backend, checking nothing leaks. */
async function gradOn(backend: string, f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  expect(tf.getBackend()).toBe(backend);
  const before = tf.memory().numTensors;
  const out = tf.tidy(f);
  const values = Float32Array.from(await out.data());
  out.dispose();
  expect(tf.memory().numTensors).toBe(before);
  await tf.setBackend('cpu');
  return values;
}

const H = 5;
const W = 6;

const cases: Array<[string, () => tf.Tensor, () => ArrayLike<number> | null, number]> = [
  [
    'gaussianBlur (kernel 11 on 5×6, reflect borders) = adjoint of the reference blur',
    () => {
      const x = tf.tensor4d(rand(H * W, 1), [1, H, W, 1]);
      const r = tf.tensor4d(rand(H * W, 2), [1, H, W, 1]);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gaussianBlur(t as tf.Tensor4D, { kernelSize: 11, sigma: 3 }), r)))(x);
    },
    () => blurAdjoint(rand(H * W, 2), H, W, 11, 3),
    1e-5,
  ],
  [
    'gaussianBlur on 3 channels with a kernel larger than the image (cpu = wasm)',
    () => {
      const x = tf.tensor4d(rand(2 * 4 * 3 * 3, 9), [2, 4, 3, 3]);
      const r = tf.tensor4d(rand(2 * 4 * 3 * 3, 10), [2, 4, 3, 3]);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gaussianBlur(t as tf.Tensor4D, { kernelSize: 51, sigma: 50 }), r)))(x);
    },
    () => null,
    1e-5,
  ],
  [
    'composite w.r.t. the mask = Σ_c (x − a)·upstream',
    () => {
      const x = tf.tensor4d(rand(H * W * 3, 3), [1, H, W, 3]);
      const a = tf.tensor4d(rand(H * W * 3, 4), [1, H, W, 3]);
      const m = tf.tensor3d(rand(H * W, 5), [1, H, W]);
      return tf.grad((t: tf.Tensor) => tf.sum(composite(x, t, a)))(m);
    },
    () => {
      const x = rand(H * W * 3, 3);
      const a = rand(H * W * 3, 4);
      return Array.from({ length: H * W }, (_, p) => [0, 1, 2].reduce((s, c) => s + x[p * 3 + c] - a[p * 3 + c], 0));
    },
    1e-5,
  ],
  [
    'totalVariation β = 2 = analytic gradient',
    () => {
      const m = tf.tensor3d(rand(H * W, 6), [1, H, W]);
      return tf.grad((t: tf.Tensor) => totalVariation(t as tf.Tensor3D, { beta: 2 }))(m);
    },
    () => {
      const m = rand(H * W, 6);
      const g = new Float64Array(H * W);
      const nh = H * (W - 1);
      const nv = (H - 1) * W;
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++) {
          if (j + 1 < W) {
            const d = m[i * W + j + 1] - m[i * W + j];
            g[i * W + j + 1] += (2 * d) / nh;
            g[i * W + j] -= (2 * d) / nh;
          }
          if (i + 1 < H) {
            const d = m[(i + 1) * W + j] - m[i * W + j];
            g[(i + 1) * W + j] += (2 * d) / nv;
            g[i * W + j] -= (2 * d) / nv;
          }
        }
      return g;
    },
    1e-5,
  ],
  [
    'resizeMaps (7×7 → 28×28) has a finite gradient',
    () => {
      const m = tf.tensor3d(rand(49, 7), [1, 7, 7]);
      const r = tf.tensor3d(rand(28 * 28, 8), [1, 28, 28]);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(resizeMaps(t as tf.Tensor3D, [28, 28]), r)))(m);
    },
    () => null,
    1e-5,
  ],
  [
    'minMaxNormalize of a constant map has a finite (zero) gradient',
    () => {
      const m = tf.fill([1, 3, 3], 2) as tf.Tensor3D;
      return tf.grad((t: tf.Tensor) => tf.sum(minMaxNormalize(t as tf.Tensor3D)))(m);
    },
    () => new Array(9).fill(0),
    0,
  ],
];

describe('gradients through the ops (cpu reference, wasm parity)', () => {
  for (const [name, f, expected, tol] of cases) {
    it(name, async () => {
      const cpu = await gradOn('cpu', f);
      expect(cpu.every(Number.isFinite)).toBe(true);
      const exp = expected();
      if (exp) expectClose(cpu, exp, tol);
      const wasm = await gradOn('wasm', f);
      expectClose(wasm, cpu, 1e-5);
    });
  }
});
