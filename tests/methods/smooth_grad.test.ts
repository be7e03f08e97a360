import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromFunction, fromLayersModel, minMaxNormalize, vanillaGradient } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { guidedBackprop } from '@saliency/methods';
import { meanGradients } from '@saliency/methods';
import { logitGradient } from '@saliency/methods';
import { cropViews, fullView, tenCropViews, viewCoverage } from '../../packages/methods/src/ten_crop';
import { maxAbsDiff, rng, seeded, useCpu } from '../setup_cpu';

beforeAll(useCpu);

const fixed = (v: number) => Number(v.toFixed(4));

/** A small nonlinear net (two ReLU layers) whose gradient depends on the input. */
function reluNet(h: number, w: number, c: number, k: number, seed = 1) {
  const d = h * w * c;
  const w1 = seeded([d, 16], seed, -1, 1) as tf.Tensor2D;
  const b1 = seeded([16], seed + 1, -0.5, 0.5) as tf.Tensor1D;
  const w2 = seeded([16, k], seed + 2, -1, 1) as tf.Tensor2D;
  const classifier = fromFunction(
    (x) => tf.matMul(tf.relu(tf.add(tf.matMul(tf.reshape(x, [-1, d]), w1), b1)), w2),
    { inputSize: [h, w], channels: c, numClasses: k, preprocess: { inputRange: [0, 1] } },
  );
  return { classifier, dispose: () => tf.dispose([w1, b1, w2]) };
}

/** logits = W·x (flattened): the gradient of class c is W[:, c] everywhere. */
function linear(h: number, w: number, c: number, k: number, seed = 7) {
  const weights = seeded([h * w * c, k], seed, -1, 1) as tf.Tensor2D;
  const classifier = fromFunction((x) => tf.matMul(tf.reshape(x, [-1, h * w * c]), weights), {
    inputSize: [h, w], channels: c, numClasses: k, preprocess: { inputRange: [0, 1] },
  });
  return { weights, classifier };
}

describe('SmoothGrad', () => {
  const [H, W, C, K] = [5, 4, 3, 3];

  it.each([
    ['vanillaGradient', vanillaGradient],
    ['guidedBackprop', guidedBackprop],
  ] as const)('%s: noise 0 with any number of samples equals the plain gradient map', async (_, method) => {
    const { classifier, dispose } = reluNet(H, W, C, K);
    const x = seeded([3, H, W, C], 2) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const plain = await method().explain(classifier, x, [0, 1, 2]);
    for (const samples of [1, 4, 7]) {
      const smooth = await method({ samples, noise: 0, batchSize: 3 }).explain(classifier, x, [0, 1, 2]);
      expect(maxAbsDiff(smooth, plain)).toBeLessThan(1e-6);
      smooth.dispose();
    }
    plain.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    dispose();
  });

  it('same seed → identical map, different seed → different map, for any batch size', async () => {
    const { classifier, dispose } = reluNet(H, W, C, K);
    const x = seeded([2, H, W, C], 3) as tf.Tensor4D;
    const run = (seed: number, batchSize: number) => vanillaGradient({ samples: 6, noise: 0.3, seed, batchSize }).explain(classifier, x, [1, 2]);
    const a = await run(5, 4);
    const b = await run(5, 4);
    const c = await run(6, 4);
    const d = await run(5, 1);
    const e = await run(5, 64);
    const plain = await vanillaGradient().explain(classifier, x, [1, 2]);
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(a, d)).toBeLessThan(1e-6);
    expect(maxAbsDiff(a, e)).toBeLessThan(1e-6);
    expect(maxAbsDiff(a, plain)).toBeGreaterThan(1e-3); // the noise does change a nonlinear model's gradient
    tf.dispose([a, b, c, d, e, plain, x]);
    dispose();
  });

  it('on a linear model equals the analytic gradient W_c for any noise level (the gradient is constant)', async () => {
    const { weights, classifier } = linear(H, W, C, K);
    const x = seeded([2, H, W, C], 4) as tf.Tensor4D;
    for (const noise of [0.15, 1, 5]) {
      const maps = await vanillaGradient({ samples: 9, noise, seed: 3 }).explain(classifier, x, [2, 0]);
      [2, 0].forEach((c, i) => {
        const want = tf.tidy(() => minMaxNormalize(tf.expandDims(tf.max(tf.abs(tf.reshape(tf.slice(weights, [0, c], [-1, 1]), [H, W, C])), -1), 0) as tf.Tensor3D));
        const got = tf.slice(maps, [i, 0, 0], [1, -1, -1]);
        expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
        tf.dispose([want, got]);
      });
      maps.dispose();
    }
    tf.dispose([x, weights]);
  });

  it('noise std = noise · (max − min) of EACH image, averaged over samples (std / √samples left in the mean gradient)', async () => {
    // logit_k = (k + 1)/2 · Σ x²: the class-0 gradient is the (noisy) input itself.
    const [h, w, c] = [8, 8, 3];
    const classifier = fromFunction((x) => tf.stack([0, 1].map((k) => tf.mul(tf.sum(tf.square(x), [1, 2, 3]), (k + 1) / 2)), 1) as tf.Tensor2D, {
      inputSize: [h, w], channels: c, numClasses: 2, preprocess: { inputRange: [0, 2] },
    });
    // image 0 spans [0, 1], image 1 spans [0, 2] exactly
    const r = rng(5);
    const values = Array.from({ length: 2 }, (_, i) => {
      const img = Array.from({ length: h * w * c }, () => 0.1 + 0.8 * r());
      img[0] = 1; img[img.length - 1] = 0;
      return img.map((v) => v * (i + 1));
    });
    const x = tf.tensor4d(values.flat(), [2, h, w, c]);
    const ranges = tf.tidy(() => Array.from(tf.sub(tf.max(x, [1, 2, 3]), tf.min(x, [1, 2, 3])).dataSync()));
    expect(ranges.map(fixed)).toEqual([1, 2]);
    const samples = 16, level = 0.2;
    const before = tf.memory().numTensors;
    const g = await meanGradients(classifier, x, 0, logitGradient(classifier), { samples, noise: level, seed: 11, batchSize: 5 });
    expect(tf.memory().numTensors).toBe(before + 1);
    const residual = await tf.sub(g, x).data();
    for (let i = 0; i < 2; i++) {
      const r = Array.from(residual.slice(i * h * w * c, (i + 1) * h * w * c));
      const mean = r.reduce((s, v) => s + v, 0) / r.length;
      const std = Math.sqrt(r.reduce((s, v) => s + (v - mean) ** 2, 0) / (r.length - 1));
      const want = (level * ranges[i]) / Math.sqrt(samples);
      expect(Math.abs(std / want - 1)).toBeLessThan(0.15);
      expect(Math.abs(mean)).toBeLessThan((4 * want) / Math.sqrt(r.length));
    }
    tf.dispose([g, x]);
  });
});

// ---------------------------------------------------------------------------------------------
// Ten-crop TTA, checked against a plain-JS reimplementation of its geometry.

/** Bilinear sample of `img` (h × w × c, row-major) at real coordinates (y, x), edge-clamped. */
function sample(img: Float32Array | number[], h: number, w: number, c: number, y: number, x: number, ch: number): number {
  const y0 = Math.floor(y), x0 = Math.floor(x);
  const y1 = Math.min(y0 + 1, h - 1), x1 = Math.min(x0 + 1, w - 1);
  const dy = y - y0, dx = x - x0;
  const at = (yy: number, xx: number) => img[(yy * w + xx) * c + ch];
  const top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * dx;
  const bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * dx;
  return top + (bottom - top) * dy;
}

interface Crop { top: number; left: number; size: [number, number]; flip: boolean }

/** The ten crops by hand: side round(0.875·n), corners then centre (offset floored), then mirrors. */
function handCrops(h: number, w: number): Crop[] {
  const ch = Math.round(0.875 * h), cw = Math.round(0.875 * w);
  const at: [number, number][] = [[0, 0], [0, w - cw], [h - ch, 0], [h - ch, w - cw], [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2)]];
  return [false, true].flatMap((flip) => at.map(([top, left]) => ({ top, left, size: [ch, cw] as [number, number], flip })));
}

/** The crop of `img`, resized to h × w with its corner pixels on the output's corners, mirrored if asked. */
function viewOf(img: Float32Array, h: number, w: number, c: number, v: Crop): Float32Array {
  const out = new Float32Array(h * w * c);
  const [ch, cw] = v.size;
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const y = v.top + (i * (ch - 1)) / (h - 1);
      const jj = v.flip ? w - 1 - j : j;
      const x = v.left + (jj * (cw - 1)) / (w - 1);
      for (let k = 0; k < c; k++) out[(i * w + j) * c + k] = sample(img, h, w, c, y, x, k);
    }
  }
  return out;
}

/** A view's gradient resized to the crop (aligned corners), un-mirrored, added into its place; coverage counted. */
function addBack(acc: Float64Array, count: Float64Array, g: Float32Array, h: number, w: number, c: number, v: Crop): void {
  const [ch, cw] = v.size;
  for (let p = 0; p < ch; p++) {
    for (let q = 0; q < cw; q++) {
      const y = (p * (h - 1)) / (ch - 1);
      const qq = v.flip ? cw - 1 - q : q;
      const x = (qq * (w - 1)) / (cw - 1);
      const at = (v.top + p) * w + v.left + q;
      count[at] += 1;
      for (let k = 0; k < c; k++) acc[at * c + k] += sample(g, h, w, c, y, x, k);
    }
  }
}

/** min-max of a per-pixel aggregate (signed sum or max |·| over channels). */
function normalizedMap(mean: Float64Array, h: number, w: number, c: number, agg: 'signed' | 'maxAbs'): number[] {
  const per = Array.from({ length: h * w }, (_, p) => {
    const v = Array.from(mean.slice(p * c, (p + 1) * c));
    return agg === 'signed' ? v.reduce((s, e) => s + e, 0) : Math.max(...v.map(Math.abs));
  });
  const lo = Math.min(...per), hi = Math.max(...per);
  return per.map((v) => (v - lo) / (hi - lo));
}

describe('ten-crop test-time augmentation', () => {
  const [H, W, C, K] = [16, 16, 2, 3];

  it('full views are the indexed images, copied (repeats, runs, jumps and order as given)', () => {
    const images = seeded([4, 3, 2, 2], 21, 0, 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const values = Array.from(images.dataSync());
    const per = 3 * 2 * 2;
    for (const index of [[2], [0, 1, 2, 3], [1, 2], [3, 3, 3], [2, 0, 0, 1, 2, 3, 1], [3, 2, 1, 0]]) {
      const x = cropViews(images, index, index.map(() => fullView(3, 2)));
      expect(x.shape).toEqual([index.length, 3, 2, 2]);
      expect(Array.from(x.dataSync())).toEqual(index.flatMap((i) => values.slice(i * per, (i + 1) * per)));
      x.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    images.dispose();
  });

  it('the geometry: ten 14×14 crops of a 16×16 image, covering every pixel 2–10 times', () => {
    const views = tenCropViews(H, W);
    expect(views.map((v) => [v.top, v.left, v.height, v.width, v.flip])).toEqual(handCrops(H, W).map((v) => [v.top, v.left, ...v.size, v.flip]));
    const cover = viewCoverage(views, H, W);
    const counts = Array.from(cover.dataSync());
    expect(Math.min(...counts)).toBe(2);
    expect(Math.max(...counts)).toBe(10);
    expect(counts[0]).toBe(2); // the top-left corner: its crop and that crop's mirror
    cover.dispose();
  });

  it('on a linear model: the map is the per-pixel mean of W_c resized into each crop (mirrored back), as computed by hand', async () => {
    const { weights, classifier } = linear(H, W, C, K, 9);
    const x = seeded([2, H, W, C], 8) as tf.Tensor4D;
    const wAll = weights.dataSync();
    const before = tf.memory().numTensors;
    const maps = await vanillaGradient({ tenCrop: true, batchSize: 3 }).explain(classifier, x, [1, 2]);
    expect(tf.memory().numTensors).toBe(before + 1);
    const got = maps.dataSync();
    [1, 2].forEach((c, n) => {
      const wc = Float32Array.from({ length: H * W * C }, (_, i) => wAll[i * K + c]);
      const acc = new Float64Array(H * W * C), count = new Float64Array(H * W);
      for (const v of handCrops(H, W)) addBack(acc, count, wc, H, W, C, v);
      const mean = acc.map((s, i) => s / count[Math.floor(i / C)]);
      const want = normalizedMap(mean, H, W, C, 'maxAbs');
      const mine = Array.from(got.slice(n * H * W, (n + 1) * H * W));
      expect(Math.max(...mine.map((v, i) => Math.abs(v - want[i])))).toBeLessThan(1e-5);
      // and it is not simply the un-augmented map
      const plain = normalizedMap(Float64Array.from(wc), H, W, C, 'maxAbs');
      expect(Math.max(...mine.map((v, i) => Math.abs(v - plain[i])))).toBeGreaterThan(0.05);
    });
    tf.dispose([maps, x, weights]);
  });

  it('on a quadratic model (gradient 2·w_c ⊙ view): crops, mirrors and the mapping back all match the hand computation', async () => {
    const wq = seeded([K, H, W, C], 12, -1, 1) as tf.Tensor4D;
    const classifier = fromFunction((x) => tf.stack(Array.from({ length: K }, (_, k) =>
      tf.sum(tf.mul(tf.square(x), tf.slice(wq, [k, 0, 0, 0], [1, -1, -1, -1])), [1, 2, 3])), 1) as tf.Tensor2D, {
      inputSize: [H, W], channels: C, numClasses: K, preprocess: { inputRange: [0, 1] },
    });
    // A ramp plus texture, so crops and mirrors change the gradient.
    const x = tf.tidy(() => tf.add(tf.mul(tf.reshape(tf.linspace(0, 1, W), [1, 1, W, 1]), 0.8), tf.mul(seeded([1, H, W, C], 13), 0.2)) as tf.Tensor4D);
    const xs = x.dataSync() as Float32Array;
    const wAll = wq.dataSync();
    const c = 1;
    const maps = await vanillaGradient({ tenCrop: true, aggregate: 'signed', batchSize: 4 }).explain(classifier, x, [c]);
    const acc = new Float64Array(H * W * C), count = new Float64Array(H * W);
    for (const v of handCrops(H, W)) {
      const view = viewOf(xs, H, W, C, v);
      const g = view.map((e, i) => 2 * wAll[c * H * W * C + i] * e);
      addBack(acc, count, g, H, W, C, v);
    }
    const want = normalizedMap(acc.map((s, i) => s / count[Math.floor(i / C)]), H, W, C, 'signed');
    const mine = Array.from(maps.dataSync());
    expect(Math.max(...mine.map((v, i) => Math.abs(v - want[i])))).toBeLessThan(1e-4);
    // With SmoothGrad at noise 0 on top, nothing changes; progress counts every view.
    const seen: number[] = [];
    const both = await vanillaGradient({ tenCrop: true, samples: 2, noise: 0, aggregate: 'signed', batchSize: 7, onProgress: (p) => seen.push(p.total) }).explain(classifier, x, [c]);
    expect(maxAbsDiff(both, maps)).toBeLessThan(1e-5);
    expect(seen[0]).toBe(20);
    tf.dispose([maps, both, x, wq]);
  });
});

describe('memory, abort and errors', () => {
  it('leaves numTensors unchanged after a SmoothGrad + ten-crop abort and after a model error', async () => {
    const { classifier, dispose } = reluNet(8, 8, 3, 2);
    const x = seeded([2, 8, 8, 3], 21) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const ctrl = new AbortController();
    const seen: number[] = [];
    const run = guidedBackprop({ samples: 3, tenCrop: true, batchSize: 4, signal: ctrl.signal, onProgress: (p) => { seen.push(p.done); if (p.done >= 12) ctrl.abort(); } }).explain(classifier, x, [0, 1]);
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    expect(seen).toEqual([4, 8, 12]); // stopped after the batch that saw the abort; 60 views in all
    expect(tf.memory().numTensors).toBe(before);
    const r = rng(1);
    const broken = fromFunction((xi) => {
      const y = tf.relu(tf.reshape(xi, [-1, 192]));
      if (r() >= 0) throw new Error('model failed');
      return y as tf.Tensor2D;
    }, { inputSize: [8, 8], channels: 3, numClasses: 2, preprocess: { inputRange: [0, 1] } });
    await expect(vanillaGradient({ samples: 2 }).explain(broken, x, [0, 1])).rejects.toThrow('model failed');
    await expect(vanillaGradient().explain(broken, x, [0, 1])).rejects.toThrow('model failed');
    expect(tf.memory().numTensors).toBe(before);
    // An abort fired by a timer (not from a callback) lands between batches too.
    let done = 0;
    const timed = new AbortController();
    setTimeout(() => timed.abort(), 0);
    await expect(vanillaGradient({ samples: 200, batchSize: 1, signal: timed.signal, onProgress: (p) => { done = p.done; } }).explain(classifier, x, [0, 1]))
      .rejects.toMatchObject({ code: 'ABORTED' });
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(400);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    dispose();
  });
});

describe('the default Node backend (wasm) against the cpu reference', () => {
  it('SmoothGrad + ten-crop (cropAndResize with mirrored boxes, seeded noise) and guided backprop agree on a small conv net', async () => {
    const input = tfl.input({ shape: [16, 16, 3] });
    let h = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.randomNormal({ seed: 1, stddev: 0.5 }) }).apply(input) as tfl.SymbolicTensor;
    h = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: tfl.initializers.randomNormal({ seed: 2, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.reLU({ maxValue: 6 }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.flatten().apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.randomNormal({ seed: 3, stddev: 0.3 }) }).apply(h) as tfl.SymbolicTensor });
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = tf.tidy(() => tf.add(tf.mul(tf.reshape(tf.linspace(0, 1, 16), [1, 1, 16, 1]), 0.7), tf.mul(seeded([2, 16, 16, 3], 4), 0.3)) as tf.Tensor4D);
    const run = async () => {
      const a = await vanillaGradient({ tenCrop: true, samples: 3, noise: 0.2, seed: 9, batchSize: 8 }).explain(classifier, x, [0, 2]);
      const b = await guidedBackprop({ tenCrop: true }).explain(classifier, x, [1, 1]);
      const out = [await a.data(), await b.data()];
      tf.dispose([a, b]);
      return out;
    };
    const cpu = await run();
    expect((await initBackend({ prefer: 'wasm', quiet: true })).name).toBe('wasm');
    try {
      const before = tf.memory().numTensors;
      const wasm = await run();
      expect(tf.memory().numTensors).toBe(before);
      for (let k = 0; k < 2; k++) {
        const d = Math.max(...Array.from(cpu[k], (v, i) => Math.abs(v - wasm[k][i])));
        expect(d).toBeLessThan(1e-4);
      }
    } finally {
      await tf.setBackend('cpu');
    }
    x.dispose();
    model.dispose();
  });
});
