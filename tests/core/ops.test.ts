import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { SaliencyError, type SaliencyErrorCode } from '../../packages/core/src/errors.js';
import {
  blurMaps,
  colorize,
  colormapTable,
  COLORMAP_NAMES,
  composite,
  gaussianBlur,
  gaussianKernel1d,
  minMaxNormalize,
  overlay,
  reflectPad,
  resizeBilinear,
  resizeMaps,
  totalVariation,
} from '../../packages/core/src/ops/index.js';

await tf.setBackend('cpu');

// ---------------------------------------------------------------- helpers

/** Deterministic pseudo-random numbers in [0, 1). */
function rand(n: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

/**
 * Runs `op` (inputs already exist), checks that exactly one new tensor remains
 * (the result), reads it, disposes it and checks the count is back.
 */
function run<T extends tf.Tensor>(op: () => T): { values: Float32Array; shape: number[] } {
  const before = tf.memory().numTensors;
  const out = op();
  expect(tf.memory().numTensors).toBe(before + 1);
  const values = Float32Array.from(out.dataSync());
  const shape = out.shape.slice();
  out.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return { values, shape };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) {
      throw new Error(`index ${i}: got ${a}, expected ${e} (tol ${tol})`);
    }
  }
}

function expectCode(fn: () => unknown, code: SaliencyErrorCode): void {
  const before = tf.memory().numTensors;
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected SaliencyError ${code}`).toBeInstanceOf(SaliencyError);
  expect((caught as SaliencyError).code).toBe(code);
  expect((caught as SaliencyError).message.length).toBeGreaterThan(20);
  expect(tf.memory().numTensors).toBe(before);
}

/** numpy np.pad(mode='reflect') index mapping, periodic for large pads. */
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

/** Float64 reference blur: reflect-101 (periodic) padding + full 2-D kernel g gᵀ. */
function blurRef(x: Float32Array, [n, h, w, c]: number[], size: number, sigma: number): Float64Array {
  const g = gaussRef(size, sigma);
  const p = (size - 1) / 2;
  const out = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let ch = 0; ch < c; ch++) {
          let acc = 0;
          for (let u = 0; u < size; u++)
            for (let v = 0; v < size; v++) {
              const ii = reflectIndex(i + u - p, h);
              const jj = reflectIndex(j + v - p, w);
              acc += g[u] * g[v] * x[((b * h + ii) * w + jj) * c + ch];
            }
          out[((b * h + i) * w + j) * c + ch] = acc;
        }
  return out;
}

// ---------------------------------------------------------------- minMaxNormalize

describe('minMaxNormalize', () => {
  it('normalises each map on its own; a constant map becomes zeros', () => {
    const x = tf.tensor3d(
      [
        [[1, 3], [5, 9]],
        [[7, 7], [7, 7]],
        [[-2, -1], [0, 2]],
        [[0, 0], [0, 0]],
      ],
    );
    const { values, shape } = run(() => minMaxNormalize(x));
    expect(shape).toEqual([4, 2, 2]);
    expectClose(values, [0, 0.25, 0.5, 1, 0, 0, 0, 0, 0, 0.25, 0.5, 1, 0, 0, 0, 0]);
    expect(values.every(Number.isFinite)).toBe(true);
    x.dispose();
  });

  it('treats rounding noise on a constant map as constant (relative eps), honours eps = 0', () => {
    const x = tf.tensor3d([[[1, 1 + 1e-7], [1, 1]]]);
    expectClose(run(() => minMaxNormalize(x)).values, [0, 0, 0, 0]);
    const tiny = tf.tensor3d([[[1e-12, 2e-12], [3e-12, 5e-12]]]);
    expectClose(run(() => minMaxNormalize(tiny)).values, [0, 0.25, 0.5, 1], 1e-5);
    const y = tf.tensor3d([[[0, 1], [2, 4]]], undefined, 'int32');
    expectClose(run(() => minMaxNormalize(y, { eps: 0 })).values, [0, 0.25, 0.5, 1]);
    tf.dispose([x, tiny, y]);
  });
});

// ---------------------------------------------------------------- resize

describe('resizeBilinear / resizeMaps', () => {
  it('half-pixel centres by default (hand values), align corners on request', () => {
    const x = tf.tensor4d([0, 1], [1, 1, 2, 1]);
    // out j at src (j + 0.5)·2/4 − 0.5 = [-0.25, 0.25, 0.75, 1.25] → clamped: [0, 0.25, 0.75, 1]
    expectClose(run(() => resizeBilinear(x, [1, 4])).values, [0, 0.25, 0.75, 1]);
    // align corners: src j·(2−1)/(4−1) = [0, 1/3, 2/3, 1]
    expectClose(run(() => resizeBilinear(x, [1, 4], { alignCorners: true })).values, [0, 1 / 3, 2 / 3, 1]);
    // legacy TF1 (neither): src j·2/4 = [0, 0.5, 1, 1.5] → [0, 0.5, 1, 1]
    expectClose(run(() => resizeBilinear(x, [1, 4], { halfPixelCenters: false })).values, [0, 0.5, 1, 1]);
    x.dispose();
  });

  it('keeps the rank of a 3-D image, resizes [N,H,W] maps, and is the identity at the same size', () => {
    const img = tf.tensor3d(rand(4 * 6 * 3), [4, 6, 3]);
    expect(run(() => resizeBilinear(img, [8, 12])).shape).toEqual([8, 12, 3]);
    const same = run(() => resizeBilinear(img, [4, 6]));
    expectClose(same.values, img.dataSync());
    const maps = tf.tensor3d([0, 1, 0, 1, 5, 5, 5, 5], [2, 2, 2]);
    const r = run(() => resizeMaps(maps, [4, 4]));
    expect(r.shape).toEqual([2, 4, 4]);
    // first map columns are 0,1 → row [0, 0.25, 0.75, 1]; second is constant 5
    expectClose(r.values.slice(0, 4), [0, 0.25, 0.75, 1]);
    expectClose(r.values.slice(16), new Array(16).fill(5));
    tf.dispose([img, maps]);
  });
});

// ---------------------------------------------------------------- Gaussian

describe('gaussianKernel1d', () => {
  it('matches the closed form and sums to 1', () => {
    for (const [size, sigma] of [
      [1, 1],
      [3, 1],
      [5, 1.5],
      [11, 5],
      [51, 50],
      [55, 11],
    ] as const) {
      const { values, shape } = run(() => gaussianKernel1d(size, sigma));
      expect(shape).toEqual([size]);
      expectClose(values, gaussRef(size, sigma), 1e-6);
      expect(Math.abs(values.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
    }
    // hand value: size 3, sigma 1 → [e^-0.5, 1, e^-0.5] / (1 + 2e^-0.5)
    const e = Math.exp(-0.5);
    expectClose(run(() => gaussianKernel1d(3, 1)).values, [e / (1 + 2 * e), 1 / (1 + 2 * e), e / (1 + 2 * e)]);
  });
});

describe('reflectPad', () => {
  it('reflects without repeating the edge, periodically for large pads (numpy mode=reflect)', () => {
    const x = tf.tensor4d([1, 2, 3], [1, 1, 3, 1]);
    expectClose(run(() => reflectPad(x, [0, 0], [4, 0])).values, [1, 2, 3, 2, 1, 2, 3]);
    expectClose(run(() => reflectPad(x, [0, 0], [2, 2])).values, [3, 2, 1, 2, 3, 2, 1]);
    const big = run(() => reflectPad(x, [0, 0], [9, 7]));
    expectClose(
      big.values,
      Array.from({ length: 19 }, (_, i) => [1, 2, 3][reflectIndex(i - 9, 3)]),
    );
    // a 1-pixel axis is replicated
    const one = tf.tensor4d([5], [1, 1, 1, 1]);
    const r = run(() => reflectPad(one, [2, 1], [0, 3]));
    expect(r.shape).toEqual([1, 4, 4, 1]);
    expectClose(r.values, new Array(16).fill(5));
    // 2-D, unequal pads, checked against the index formula
    const y = tf.tensor4d(rand(4 * 5 * 2, 3), [1, 4, 5, 2]);
    const yv = y.dataSync();
    const p = run(() => reflectPad(y, [7, 2], [3, 11]));
    expect(p.shape).toEqual([1, 13, 19, 2]);
    const exp: number[] = [];
    for (let i = 0; i < 13; i++)
      for (let j = 0; j < 19; j++)
        for (let c = 0; c < 2; c++) exp.push(yv[(reflectIndex(i - 7, 4) * 5 + reflectIndex(j - 3, 5)) * 2 + c]);
    expectClose(p.values, exp);
    tf.dispose([x, one, y]);
  });
});

describe('gaussianBlur / blurMaps', () => {
  it('blur of an impulse is the outer product of the 1-D kernel, per channel', () => {
    const k = 7;
    const sigma = 1.5;
    const g = gaussRef(k, sigma);
    const [n, h, w, c] = [2, 21, 19, 3];
    const data = new Float32Array(n * h * w * c);
    const at = (b: number, i: number, j: number, ch: number) => ((b * h + i) * w + j) * c + ch;
    const impulses: Array<[number, number, number, number]> = [
      [0, 10, 9, 0],
      [0, 6, 12, 2],
      [1, 12, 5, 1],
    ];
    for (const [b, i, j, ch] of impulses) data[at(b, i, j, ch)] = 1;
    const x = tf.tensor4d(data, [n, h, w, c]);
    const { values } = run(() => gaussianBlur(x, { kernelSize: k, sigma }));
    const expected = new Float64Array(n * h * w * c);
    for (const [b, i0, j0, ch] of impulses)
      for (let u = -3; u <= 3; u++) for (let v = -3; v <= 3; v++) expected[at(b, i0 + u, j0 + v, ch)] += g[u + 3] * g[v + 3];
    expectClose(values, expected, 1e-7);
    x.dispose();
  });

  it('preserves a constant image (reflect padding), also with a kernel far larger than the image', () => {
    const cval = 0.37;
    const x = tf.fill([2, 9, 12, 3], cval) as tf.Tensor4D;
    expectClose(run(() => gaussianBlur(x, { kernelSize: 5, sigma: 2 })).values, new Array(2 * 9 * 12 * 3).fill(cval), 1e-6);
    const small = tf.fill([1, 7, 7, 3], cval) as tf.Tensor4D;
    const r = run(() => gaussianBlur(small, { kernelSize: 51, sigma: 50 }));
    expect(r.shape).toEqual([1, 7, 7, 3]);
    expectClose(r.values, new Array(147).fill(cval), 1e-6);
    const px = tf.fill([1, 1, 1, 1], cval) as tf.Tensor4D;
    expectClose(run(() => gaussianBlur(px, { kernelSize: 55, sigma: 11 })).values, [cval], 1e-6);
    tf.dispose([x, small, px]);
  });

  it('matches a float64 reference (reflect-101, periodic) on small images with huge kernels, at 224², and past the matrix size', () => {
    const cases: Array<[[number, number, number, number], number, number]> = [
      [[1, 7, 7, 3], 51, 50],
      [[2, 5, 9, 1], 11, 5],
      [[1, 3, 2, 2], 55, 11],
      [[1, 16, 13, 3], 11, 5],
      [[1, 224, 224, 3], 51, 50], // Group-CAM's baseline blur at MobileNetV2's size (blur matrices)
      [[1, 520, 6, 2], 11, 5], // a side above 512: two 1-channel convolutions
      [[1, 3, 530, 1], 51, 50],
    ];
    for (const [shape, k, sigma] of cases) {
      const xs = rand(shape.reduce((a, b) => a * b, 1), k);
      const x = tf.tensor4d(xs, shape);
      const { values } = run(() => gaussianBlur(x, { kernelSize: k, sigma }));
      expectClose(values, blurRef(xs, [...shape], k, sigma), 1e-5);
      x.dispose();
    }
  });

  it('kernel size 1 is the identity; blurMaps equals gaussianBlur on one channel', () => {
    const xs = rand(2 * 6 * 5, 9);
    const x = tf.tensor4d(xs, [2, 6, 5, 1]);
    expectClose(run(() => gaussianBlur(x, { kernelSize: 1, sigma: 3 })).values, xs);
    const maps = tf.tensor3d(xs, [2, 6, 5]);
    const a = run(() => blurMaps(maps, { kernelSize: 11, sigma: 5 }));
    expect(a.shape).toEqual([2, 6, 5]);
    expectClose(a.values, blurRef(xs, [2, 6, 5, 1], 11, 5), 1e-5);
    tf.dispose([x, maps]);
  });
});

// ---------------------------------------------------------------- composite

describe('composite', () => {
  it('x·m + a·(1−m) against hand values, mask broadcast over channels', () => {
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const m = tf.tensor3d([1, 0, 0.5, 0.25], [1, 2, 2]);
    expectClose(run(() => composite(x, m, 10)).values, [1, 10, 6.5, 8.5]);

    const rgb = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 1, 2, 3]);
    const m2 = tf.tensor2d([0.5, 0], [1, 2]);
    // pixel 0: 0.5·x + 0.5·a; pixel 1: a
    expectClose(run(() => composite(rgb, m2, [0.1, 0.2, 0.3])).values, [0.55, 1.1, 1.65, 0.1, 0.2, 0.3]);
    const m4 = tf.tensor4d([1, 0.5], [1, 1, 2, 1]);
    const bg = tf.tensor4d([0, 0, 0, 10, 20, 30], [1, 1, 2, 3]);
    expectClose(run(() => composite(rgb, m4, bg)).values, [1, 2, 3, 7, 12.5, 18]);
    tf.dispose([x, m, rgb, m2, m4, bg]);
  });

  it('one mask for a batch, one background per image, per-channel tensor colour', () => {
    const x = tf.tensor4d([1, 1, 2, 2], [2, 1, 2, 1]);
    const m = tf.tensor3d([1, 0], [1, 1, 2]);
    const bg = tf.tensor4d([5, 7], [2, 1, 1, 1]);
    expectClose(run(() => composite(x, m, bg)).values, [1, 5, 2, 7]);
    const ones = tf.ones([1, 1, 1, 3]) as tf.Tensor4D;
    const colour = tf.tensor1d([0.25, 0.5, 0.75]);
    const zero = tf.zeros([1, 1]);
    expectClose(run(() => composite(ones, zero, colour)).values, [0.25, 0.5, 0.75]);
    tf.dispose([x, m, bg, ones, colour, zero]);
  });
});

// ---------------------------------------------------------------- TV

describe('totalVariation', () => {
  // m = [[0,1,2],[0,0,0],[3,0,1]]
  // horizontal |d|: 1 1 0 0 3 1 (mean 1), squares mean 12/6 = 2
  // vertical   |d|: 0 1 2 3 0 1 (mean 7/6), squares mean 15/6 = 2.5
  const m33 = [0, 1, 2, 0, 0, 0, 3, 0, 1];

  it('hand-computed 3×3 case for β = 1 and β = 2', () => {
    const m = tf.tensor3d(m33, [1, 3, 3]);
    expectClose(run(() => totalVariation(m)).values, [1 + 7 / 6]);
    expectClose(run(() => totalVariation(m, { beta: 2 })).values, [2 + 2.5]);
    // β = 0.5 against the definition
    const h = [1, 1, 0, 0, 3, 1].map((d) => Math.sqrt(d)).reduce((a, b) => a + b) / 6;
    const v = [0, 1, 2, 3, 0, 1].map((d) => Math.sqrt(d)).reduce((a, b) => a + b) / 6;
    expectClose(run(() => totalVariation(m, { beta: 0.5 })).values, [h + v], 1e-6);
    m.dispose();
  });

  it('per-sample values, batch mean, channels averaged, 1-pixel axes', () => {
    const m = tf.tensor3d([...m33, ...new Array(9).fill(4)], [2, 3, 3]);
    const each = run(() => totalVariation(m, { perSample: true }));
    expect(each.shape).toEqual([2]);
    expectClose(each.values, [13 / 6, 0]);
    expectClose(run(() => totalVariation(m)).values, [13 / 12]);
    const two = tf.tensor4d(m33.flatMap((v) => [v, 2 * v]), [1, 3, 3, 2]);
    expectClose(run(() => totalVariation(two)).values, [(13 / 6 + 26 / 6) / 2]);
    const row = tf.tensor3d([0, 2, 1], [1, 1, 3]);
    expectClose(run(() => totalVariation(row)).values, [1.5]);
    const px = tf.tensor3d([3], [1, 1, 1]);
    expectClose(run(() => totalVariation(px)).values, [0]);
    tf.dispose([m, two, row, px]);
  });
});

// ---------------------------------------------------------------- colour maps

function hex(rgb: ArrayLike<number>): string {
  return '#' + Array.from(rgb, (v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('');
}

describe('colorize / colormapTable', () => {
  it('reference colours of viridis, turbo and jet', () => {
    const x = tf.tensor3d([0, 1, 0.5, -3, 7], [1, 1, 5]);
    const vir = run(() => colorize(x, 'viridis'));
    expect(vir.shape).toEqual([1, 1, 5, 3]);
    expect(hex(vir.values.slice(0, 3))).toBe('#440154');
    expect(hex(vir.values.slice(3, 6))).toBe('#fde725');
    expectClose(vir.values.slice(0, 3), [0.267004, 0.004874, 0.329415]);
    expectClose(vir.values.slice(3, 6), [0.993248, 0.906157, 0.143936]);
    expectClose(vir.values.slice(6, 9), [0.127568, 0.566949, 0.550556]); // entry 128
    expectClose(vir.values.slice(9, 12), vir.values.slice(0, 3)); // clipped below
    expectClose(vir.values.slice(12, 15), vir.values.slice(3, 6)); // clipped above

    const tur = run(() => colorize(x, 'turbo'));
    expectClose(tur.values.slice(0, 3), [0.18995, 0.07176, 0.23217]);
    expectClose(tur.values.slice(3, 6), [0.4796, 0.01583, 0.01055]);

    const jet = run(() => colorize(x)); // default 'jet'
    expectClose(jet.values.slice(0, 3), [0, 0, 0.5]);
    expectClose(jet.values.slice(3, 6), [0.5, 0, 0]);
    // matplotlib: jet(0.5) = entry 128, sampled at x = 128/255
    const xs = 128 / 255;
    expectClose(jet.values.slice(6, 9), [(xs - 0.35) / 0.31, 1, 1 - (xs - 0.34) / 0.31], 1e-6);
    expectClose(jet.values.slice(6, 9), [0.49, 1, 0.48], 0.01);
    x.dispose();
  });

  it('quantises like matplotlib: index = min(floor(v·256), 255)', () => {
    const lut = colormapTable('turbo');
    const vals = [0, 0.5 / 256, 1 / 256 - 1e-6, 1 / 256 + 1e-6, 0.25, 0.999, 1];
    const x = tf.tensor3d(vals, [1, 1, vals.length]);
    const { values } = run(() => colorize(x, 'turbo'));
    const expected = vals.flatMap((v) => {
      const i = Math.min(Math.floor(Math.fround(v) * 256), 255);
      return Array.from(lut.subarray(i * 3, i * 3 + 3));
    });
    expectClose(values, expected, 0);
    x.dispose();
  });

  it('tables have 256 entries in [0, 1] and are returned as copies', () => {
    for (const name of COLORMAP_NAMES) {
      const t = colormapTable(name);
      expect(t.length).toBe(768);
      expect(t.every((v) => v >= 0 && v <= 1)).toBe(true);
      t[0] = 42;
      expect(colormapTable(name)[0]).not.toBe(42);
    }
  });
});

// ---------------------------------------------------------------- overlay

describe('overlay', () => {
  it('alpha 0 returns the image, alpha 1 the colour, maps resized to the image', () => {
    const img = tf.tensor4d(rand(2 * 4 * 6 * 3, 5), [2, 4, 6, 3]);
    const maps = tf.tensor3d(rand(2 * 2 * 3, 6), [2, 2, 3]);
    const a0 = run(() => overlay(img, maps, { alpha: 0 }));
    expect(a0.shape).toEqual([2, 4, 6, 3]);
    expectClose(a0.values, img.dataSync());
    const colour = tf.tidy(() => colorize(resizeMaps(maps, [4, 6]), 'viridis'));
    const a1 = run(() => overlay(img, maps, { alpha: 1, colormap: 'viridis' }));
    expectClose(a1.values, colour.dataSync());
    const half = run(() => overlay(img, maps, { colormap: 'viridis' }));
    const iv = img.dataSync();
    const cv = colour.dataSync();
    expectClose(half.values, Array.from(iv, (v, i) => 0.5 * v + 0.5 * cv[i]));
    tf.dispose([img, maps, colour]);
  });

  it('3-D image with a 2-D map; grey and RGBA images', () => {
    const img = tf.tensor3d(rand(3 * 3 * 3, 7), [3, 3, 3]);
    const map = tf.tensor2d(rand(9, 8), [3, 3]);
    const r = run(() => overlay(img, map, { alpha: 1, colormap: 'turbo' }));
    expect(r.shape).toEqual([3, 3, 3]);
    const c = tf.tidy(() => colorize(tf.expandDims(map, 0) as tf.Tensor3D, 'turbo'));
    expectClose(r.values, c.dataSync());

    const grey = tf.fill([1, 3, 3, 1], 0.2) as tf.Tensor4D;
    const g = run(() => overlay(grey, map, { alpha: 0.25, colormap: 'turbo' }));
    expect(g.shape).toEqual([1, 3, 3, 3]);
    const cv = c.dataSync();
    expectClose(g.values, Array.from(cv, (v) => 0.75 * 0.2 + 0.25 * v));

    const rgba = tf.tensor4d(rand(9 * 4, 10), [1, 3, 3, 4]);
    const o = run(() => overlay(rgba, map, { alpha: 0 }));
    expect(o.shape).toEqual([1, 3, 3, 4]);
    expectClose(o.values, rgba.dataSync());
    tf.dispose([img, map, c, grey, rgba]);
  });
});

// ---------------------------------------------------------------- errors

describe('errors: every code is raised by a real bad input, leaking nothing', () => {
  it('BAD_RANK', () => {
    const t2 = tf.zeros([3, 3]);
    const t3 = tf.zeros([1, 3, 3]);
    const t4 = tf.zeros([1, 3, 3, 3]);
    const t5 = tf.zeros([1, 1, 3, 3, 3]);
    const m123 = tf.zeros([1, 2, 3]);
    const bg23 = tf.zeros([2, 3]);
    const m233 = tf.zeros([2, 3, 3]) as tf.Tensor3D;
    expectCode(() => minMaxNormalize(t2 as unknown as tf.Tensor3D), 'BAD_RANK');
    expectCode(() => resizeBilinear(t2 as unknown as tf.Tensor3D, [4, 4]), 'BAD_RANK');
    expectCode(() => resizeMaps(t4 as unknown as tf.Tensor3D, [4, 4]), 'BAD_RANK');
    expectCode(() => gaussianBlur(t3 as unknown as tf.Tensor4D, { kernelSize: 3, sigma: 1 }), 'BAD_RANK');
    expectCode(() => blurMaps(t4 as unknown as tf.Tensor3D, { kernelSize: 3, sigma: 1 }), 'BAD_RANK');
    expectCode(() => reflectPad(t3 as unknown as tf.Tensor4D, [1, 1], [1, 1]), 'BAD_RANK');
    expectCode(() => composite(t3 as unknown as tf.Tensor4D, t3, 0), 'BAD_RANK');
    expectCode(() => composite(t4 as tf.Tensor4D, m123, 0), 'BAD_RANK'); // mask H mismatch
    expectCode(() => composite(t4 as tf.Tensor4D, t5, 0), 'BAD_RANK');
    expectCode(() => composite(t4 as tf.Tensor4D, t3, bg23), 'BAD_RANK'); // background H mismatch
    expectCode(() => totalVariation(t2 as unknown as tf.Tensor3D), 'BAD_RANK');
    expectCode(() => colorize(t4 as unknown as tf.Tensor3D), 'BAD_RANK');
    expectCode(() => overlay(t2 as unknown as tf.Tensor3D, t2 as tf.Tensor2D), 'BAD_RANK');
    expectCode(() => overlay(t4 as tf.Tensor4D, t4 as unknown as tf.Tensor3D), 'BAD_RANK');
    expectCode(() => overlay(t4 as tf.Tensor4D, m233), 'BAD_RANK'); // 2 maps, 1 image
    tf.dispose([t2, t3, t4, t5, m123, bg23, m233]);
  });

  it('IMAGE_TOO_SMALL', () => {
    const e3 = tf.zeros([1, 0, 3]) as tf.Tensor3D;
    const e4 = tf.zeros([1, 3, 0, 3]) as tf.Tensor4D;
    const m30 = tf.zeros([1, 3, 0]);
    const ones122 = tf.ones([1, 2, 2]) as tf.Tensor3D;
    expectCode(() => minMaxNormalize(e3), 'IMAGE_TOO_SMALL');
    expectCode(() => resizeBilinear(e4, [2, 2]), 'IMAGE_TOO_SMALL');
    expectCode(() => resizeMaps(e3, [2, 2]), 'IMAGE_TOO_SMALL');
    expectCode(() => gaussianBlur(e4, { kernelSize: 3, sigma: 1 }), 'IMAGE_TOO_SMALL');
    expectCode(() => blurMaps(e3, { kernelSize: 3, sigma: 1 }), 'IMAGE_TOO_SMALL');
    expectCode(() => reflectPad(e4, [1, 1], [1, 1]), 'IMAGE_TOO_SMALL');
    expectCode(() => composite(e4, m30, 0), 'IMAGE_TOO_SMALL');
    expectCode(() => totalVariation(e3), 'IMAGE_TOO_SMALL');
    expectCode(() => colorize(e3), 'IMAGE_TOO_SMALL');
    expectCode(() => overlay(e4, ones122), 'IMAGE_TOO_SMALL');
    const img = tf.ones([1, 2, 2, 3]) as tf.Tensor4D;
    expectCode(() => overlay(img, e3), 'IMAGE_TOO_SMALL');
    tf.dispose([e3, e4, img, m30, ones122]);
  });

  it('BAD_OPTION', () => {
    const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
    const m = tf.ones([1, 4, 4]) as tf.Tensor3D;
    expectCode(() => gaussianKernel1d(4, 1), 'BAD_OPTION');
    expectCode(() => gaussianKernel1d(0, 1), 'BAD_OPTION');
    expectCode(() => gaussianKernel1d(2.5, 1), 'BAD_OPTION');
    expectCode(() => gaussianKernel1d(3, 0), 'BAD_OPTION');
    expectCode(() => gaussianKernel1d(3, Number.NaN), 'BAD_OPTION');
    expectCode(() => gaussianBlur(x, { kernelSize: 50, sigma: 50 }), 'BAD_OPTION');
    expectCode(() => gaussianBlur(x, { kernelSize: 51, sigma: -1 }), 'BAD_OPTION');
    expectCode(() => blurMaps(m, { kernelSize: 11, sigma: Infinity }), 'BAD_OPTION');
    expectCode(() => resizeBilinear(x, [0, 4]), 'BAD_OPTION');
    expectCode(() => resizeBilinear(x, [2.5, 4]), 'BAD_OPTION');
    expectCode(() => resizeBilinear(x, [4, 4], { alignCorners: true, halfPixelCenters: true }), 'BAD_OPTION');
    expectCode(() => resizeMaps(m, [4, -1]), 'BAD_OPTION');
    expectCode(() => reflectPad(x, [1, -1], [0, 0]), 'BAD_OPTION');
    expectCode(() => reflectPad(x, [1, 1], [0.5, 0]), 'BAD_OPTION');
    expectCode(() => minMaxNormalize(m, { eps: -1 }), 'BAD_OPTION');
    expectCode(() => totalVariation(m, { beta: 0 }), 'BAD_OPTION');
    expectCode(() => colorize(m, 'hot' as never), 'BAD_OPTION');
    expectCode(() => colormapTable('toString' as never), 'BAD_OPTION');
    expectCode(() => overlay(x, m, { alpha: 1.5 }), 'BAD_OPTION');
    expectCode(() => overlay(x, m, { colormap: 'gray' as never }), 'BAD_OPTION');
    tf.dispose([x, m]);
  });

  it('BAD_CHANNELS and NON_FINITE_INPUT', () => {
    const rgb = tf.ones([1, 2, 2, 3]) as tf.Tensor4D;
    const m = tf.ones([1, 2, 2]) as tf.Tensor3D;
    const two = tf.zeros([2]);
    const twoChannels = tf.ones([1, 2, 2, 2]) as tf.Tensor4D;
    expectCode(() => composite(rgb, m, [0.5, 0.5]), 'BAD_CHANNELS');
    expectCode(() => composite(rgb, m, two), 'BAD_CHANNELS');
    expectCode(() => overlay(twoChannels, m), 'BAD_CHANNELS');
    expectCode(() => composite(rgb, m, Number.NaN), 'NON_FINITE_INPUT');
    expectCode(() => composite(rgb, m, [0, Infinity, 0]), 'NON_FINITE_INPUT');
    tf.dispose([rgb, m, two, twoChannels]);
  });
});

// ---------------------------------------------------------------- wasm parity

describe('wasm backend gives the cpu results', () => {
  let wasmOk = false;
  beforeAll(async () => {
    wasmOk = await tf.setBackend('wasm');
    await tf.setBackend('cpu');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  /** Runs `make` (which builds its inputs from JS data) on a backend; returns the values. */
  async function on(backend: string, make: () => tf.Tensor): Promise<{ values: Float32Array; shape: number[] }> {
    await tf.setBackend(backend);
    await tf.ready();
    expect(tf.getBackend()).toBe(backend);
    const before = tf.memory().numTensors;
    const out = tf.tidy(make);
    const values = Float32Array.from(await out.data());
    const shape = out.shape.slice();
    out.dispose();
    expect(tf.memory().numTensors).toBe(before);
    return { values, shape };
  }

  const cases: Array<[string, () => tf.Tensor]> = [
    ['minMaxNormalize', () => minMaxNormalize(tf.mul(tf.tensor3d(rand(3 * 5 * 4, 11), [3, 5, 4]), tf.tensor3d([1, 0, -2], [3, 1, 1])) as tf.Tensor3D)],
    ['resizeBilinear', () => resizeBilinear(tf.tensor4d(rand(2 * 7 * 5 * 3, 12), [2, 7, 5, 3]), [13, 9])],
    ['resizeBilinear alignCorners', () => resizeBilinear(tf.tensor3d(rand(7 * 5 * 3, 13), [7, 5, 3]), [3, 11], { alignCorners: true })],
    ['resizeMaps', () => resizeMaps(tf.tensor3d(rand(2 * 7 * 7, 14), [2, 7, 7]), [224, 224])],
    ['gaussianKernel1d', () => gaussianKernel1d(51, 50)],
    ['reflectPad', () => reflectPad(tf.tensor4d(rand(2 * 3 * 4 * 2, 15), [2, 3, 4, 2]), [9, 2], [1, 13])],
    ['gaussianBlur 51 on 7x7', () => gaussianBlur(tf.tensor4d(rand(2 * 7 * 7 * 3, 16), [2, 7, 7, 3]), { kernelSize: 51, sigma: 50 })],
    ['gaussianBlur 11', () => gaussianBlur(tf.tensor4d(rand(1 * 32 * 24 * 3, 17), [1, 32, 24, 3]), { kernelSize: 11, sigma: 5 })],
    ['blurMaps 55', () => blurMaps(tf.tensor3d(rand(2 * 20 * 30, 18), [2, 20, 30]), { kernelSize: 55, sigma: 11 })],
    [
      'composite',
      () =>
        composite(
          tf.tensor4d(rand(2 * 6 * 5 * 3, 19), [2, 6, 5, 3]),
          tf.tensor3d(rand(2 * 6 * 5, 20), [2, 6, 5]),
          tf.tensor4d(rand(2 * 6 * 5 * 3, 21), [2, 6, 5, 3]),
        ),
    ],
    ['composite colour', () => composite(tf.tensor4d(rand(6 * 5 * 3, 22), [1, 6, 5, 3]), tf.tensor2d(rand(30, 23), [6, 5]), [0.1, 0.5, 0.9])],
    ['totalVariation β1', () => totalVariation(tf.tensor4d(rand(2 * 9 * 8 * 3, 24), [2, 9, 8, 3]))],
    ['totalVariation β2', () => totalVariation(tf.tensor3d(rand(3 * 9 * 8, 25), [3, 9, 8]), { beta: 2, perSample: true })],
    ['totalVariation β0.5', () => totalVariation(tf.tensor3d(rand(3 * 9 * 8, 26), [3, 9, 8]), { beta: 0.5, perSample: true })],
    ['colorize jet', () => colorize(tf.tensor3d(rand(2 * 16 * 16, 27), [2, 16, 16]), 'jet')],
    ['colorize viridis', () => colorize(tf.tensor3d(rand(2 * 16 * 16, 28), [2, 16, 16]), 'viridis')],
    ['colorize turbo', () => colorize(tf.tensor3d(rand(2 * 16 * 16, 29), [2, 16, 16]), 'turbo')],
    ['overlay', () => overlay(tf.tensor4d(rand(2 * 12 * 10 * 3, 30), [2, 12, 10, 3]), tf.tensor3d(rand(2 * 3 * 3, 31), [2, 3, 3]), { alpha: 0.4 })],
  ];

  for (const [name, make] of cases) {
    it(name, async () => {
      expect(wasmOk, 'the wasm backend must initialise in Node').toBe(true);
      const ref = await on('cpu', make);
      const got = await on('wasm', make);
      expect(got.shape).toEqual(ref.shape);
      expectClose(got.values, ref.values, 1e-5);
      await tf.setBackend('cpu');
    });
  }
});
