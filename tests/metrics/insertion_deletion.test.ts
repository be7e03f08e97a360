import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromFunction, gaussianBlur, type Classifier, type PreprocessSpec } from '@saliency/core/base';
import { insertionDeletion } from '@saliency/metrics';
import { rng, useCpu } from '../setup_cpu';

beforeAll(useCpu);

/** Two classes, logits [log(q/(1−q)), 0], so the softmax probability of class 0 is exactly q(x). */
function probabilityClassifier(q: (x: tf.Tensor4D) => tf.Tensor1D, size: [number, number], preprocess: PreprocessSpec = { inputRange: [0, 1] }, onCall?: (n: number) => void): Classifier {
  return fromFunction((x) => {
    onCall?.(x.shape[0]);
    const p = q(x);
    return tf.stack([tf.sub(tf.log(p), tf.log(tf.sub(1, p))), tf.zerosLike(p)], 1) as tf.Tensor2D;
  }, { inputSize: size, numClasses: 2, channels: 3, preprocess });
}

/** q = 0.05 + 0.9 · (fraction of values > 0.9): p counts the visible 'bright' pixels. */
const brightFraction = (x: tf.Tensor4D) => tf.add(0.05, tf.mul(0.9, tf.mean(tf.cast(tf.greater(x, 0.9), 'float32'), [1, 2, 3]))) as tf.Tensor1D;
/** q = 0.05 + 0.9 · mean(x). */
const meanLinear = (x: tf.Tensor4D) => tf.add(0.05, tf.mul(0.9, tf.mean(x, [1, 2, 3]))) as tf.Tensor1D;

function image(h: number, w: number, pixel: (y: number, x: number) => number): tf.Tensor3D {
  const d = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d.fill(pixel(y, x), (y * w + x) * 3, (y * w + x) * 3 + 3);
  return tf.tensor3d(d, [h, w, 3]);
}
function mapOf(h: number, w: number, value: (y: number, x: number) => number): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from({ length: h * w }, (_, i) => value(Math.floor(i / w), i % w)), [h, w]);
}
async function maxOf(t: tf.Tensor): Promise<number> {
  const m = tf.max(t);
  const v = (await m.data())[0];
  m.dispose();
  return v;
}

describe('insertionDeletion', () => {
  it('matches the analytic curves and AUCs: bright left half, map decreasing to the right (8×8, step = H = 8)', async () => {
    const classifier = probabilityClassifier(brightFraction, [8, 8]);
    const x = image(8, 8, (_, c) => (c < 4 ? 1 : 0));
    const map = mapOf(8, 8, (_, c) => 1 - c / 8); // columns in order 0, 1, …; ties (same column) by index
    const blurred = gaussianBlur(tf.expandDims(x, 0) as tf.Tensor4D, { kernelSize: 11, sigma: 5 });
    expect(await maxOf(blurred)).toBeLessThan(0.9); // precondition: the blurred start has no bright pixel
    blurred.dispose();
    const before = tf.memory().numTensors;
    const r = await insertionDeletion(classifier, x, map, 0);
    expect(tf.memory().numTensors).toBe(before);
    // iteration k inserts/deletes column k − 1: p_ins = 0.05 + 0.9·min(k, 4)/8, p_del = 0.05 + 0.9·max(4 − k, 0)/8
    expect(r.curves.fractions).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8].map((k) => k / 8));
    r.curves.insertion.forEach((p, k) => expect(p).toBeCloseTo(0.05 + (0.9 * Math.min(k, 4)) / 8, 5));
    r.curves.deletion.forEach((p, k) => expect(p).toBeCloseTo(0.05 + (0.9 * Math.max(4 - k, 0)) / 8, 5));
    // ∫ = 0.05 + 0.9·(0.5²/2 + 0.5·0.5) and 0.05 + 0.9·0.5²/2
    expect(Math.abs(r.insertion - 0.3875)).toBeLessThan(1e-3);
    expect(Math.abs(r.deletion - 0.1625)).toBeLessThan(1e-3);
    expect(Math.abs(r.overall - 0.225)).toBeLessThan(1e-3);
    // the reverse order deletes the dark columns first
    const rev = mapOf(8, 8, (_, c) => c / 8);
    const r2 = await insertionDeletion(classifier, x, rev, 0);
    expect(Math.abs(r2.deletion - (0.05 + 0.9 * (0.5 * 0.5 + 0.5 * 0.5 / 2)))).toBeLessThan(1e-3); // 0.3875
    expect(Math.abs(r2.insertion - (0.05 + 0.9 * (0.5 * 0.5 / 2)))).toBeLessThan(1e-3); // 0.1625
    tf.dispose([x, map, rev]);
  });

  it('equals an unbatched reference loop on a random map with ties, with a step that does not divide H·W', async () => {
    const h = 9, w = 7, step = 5; // 63 pixels → n = 13 iterations, 14 points, last step changes 3 pixels
    const classifier = probabilityClassifier(brightFraction, [h, w]);
    const r0 = rng(5);
    const bright = Array.from({ length: h * w }, () => r0() < 0.45);
    const levels = Array.from({ length: h * w }, () => Math.floor(r0() * 6) / 5); // 6 levels: many ties
    const x = image(h, w, (y, c) => (bright[y * w + c] ? 1 : 0.3));
    const map = mapOf(h, w, (y, c) => levels[y * w + c]);
    const blurred = gaussianBlur(tf.expandDims(x, 0) as tf.Tensor4D, { kernelSize: 11, sigma: 5 });
    expect(await maxOf(blurred)).toBeLessThan(0.9);
    blurred.dispose();

    // reference: sort by saliency descending, ties by index; count bright pixels visible after each step
    const order = Array.from({ length: h * w }, (_, i) => i).sort((a, b) => levels[b] - levels[a] || a - b);
    const n = Math.ceil((h * w) / step);
    const frac: number[] = [], ins: number[] = [], del: number[] = [];
    for (let k = 0; k <= n; k++) {
      const changed = new Set(order.slice(0, Math.min(k * step, h * w)));
      let inserted = 0, kept = 0;
      for (let i = 0; i < h * w; i++) {
        if (!bright[i]) continue;
        if (changed.has(i)) inserted++; else kept++;
      }
      frac.push(Math.min(k * step, h * w) / (h * w));
      ins.push(0.05 + (0.9 * inserted) / (h * w));
      del.push(0.05 + (0.9 * kept) / (h * w));
    }
    const area = (ys: number[]) => ys.slice(1).reduce((s, y, i) => s + ((frac[i + 1] - frac[i]) * (y + ys[i])) / 2, 0);

    const r = await insertionDeletion(classifier, x, map, 0, { step });
    expect(r.curves.fractions.length).toBe(14);
    r.curves.fractions.forEach((f, k) => expect(f).toBeCloseTo(frac[k], 12));
    r.curves.insertion.forEach((p, k) => expect(p).toBeCloseTo(ins[k], 5));
    r.curves.deletion.forEach((p, k) => expect(p).toBeCloseTo(del[k], 5));
    expect(Math.abs(r.insertion - area(ins))).toBeLessThan(1e-5);
    expect(Math.abs(r.deletion - area(del))).toBeLessThan(1e-5);
    // class 1 has probability 1 − p_0 at every point
    const r1 = await insertionDeletion(classifier, x, map, 1, { step });
    expect(Math.abs(r1.insertion - (1 - area(ins)))).toBeLessThan(1e-5);
    tf.dispose([x, map]);
  });

  it("deletes to zero in the model's normalised space by default, or to the given colour", async () => {
    // preprocessing (x − 0.5) / 0.25: zero in the model's space is 0.5 in the user's.
    // q = 0.05 + 0.9 · (fraction of preprocessed values equal to 0): deletion to model-zero gives q = 0.05 + 0.9·f.
    const zeros = (x: tf.Tensor4D) => tf.add(0.05, tf.mul(0.9, tf.mean(tf.cast(tf.less(tf.abs(x), 1e-3), 'float32'), [1, 2, 3]))) as tf.Tensor1D;
    const classifier = probabilityClassifier(zeros, [8, 8], { inputRange: [0, 1], mean: 0.5, std: 0.25 });
    const r0 = rng(9);
    const x = image(8, 8, () => 0.6 + 0.4 * r0());
    const map = mapOf(8, 8, () => r0());
    const byDefault = await insertionDeletion(classifier, x, map, 0);
    byDefault.curves.deletion.forEach((p, k) => expect(p).toBeCloseTo(0.05 + 0.9 * (k / 8), 5));
    expect(Math.abs(byDefault.deletion - 0.5)).toBeLessThan(1e-3);
    const black = await insertionDeletion(classifier, x, map, 0, { substrate: [0, 0, 0] });
    expect(Math.abs(black.deletion - 0.05)).toBeLessThan(1e-3);
    const grey = await insertionDeletion(classifier, x, map, 0, { substrate: [0.5, 0.5, 0.5] });
    expect(Math.abs(grey.deletion - 0.5)).toBeLessThan(1e-3);
    await expect(insertionDeletion(classifier, x, map, 0, { substrate: [0.5, 0.5] })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    tf.dispose([x, map]);
  });

  it('honours the blur presets and overrides (start = p(blurred image)), with step from the input HEIGHT', async () => {
    const h = 12, w = 8; // non-square: step = H = 12 (rise) or 24 (groupcam)
    const classifier = probabilityClassifier(meanLinear, [h, w]);
    const x = image(h, w, (y, c) => (c < 3 && y < 7 ? 1 : 0.1 + 0.05 * ((y + c) % 3)));
    const map = mapOf(h, w, (y, c) => Math.sin(y * 1.3 + c * 0.7));
    const x4 = tf.expandDims(x, 0) as tf.Tensor4D;
    const pOf = async (kernelSize: number, sigma: number) => {
      const b = gaussianBlur(x4, { kernelSize, sigma });
      const m = tf.mean(b);
      const v = 0.05 + 0.9 * (await m.data())[0];
      tf.dispose([b, m]);
      return v;
    };
    const full = await pOf(1, 1);
    const rise = await insertionDeletion(classifier, x, map, 0);
    expect(rise.curves.fractions.length).toBe(Math.ceil((h * w) / h) + 1); // 9
    expect(rise.curves.insertion[0]).toBeCloseTo(await pOf(11, 5), 5);
    const gc = await insertionDeletion(classifier, x, map, 0, { preset: 'groupcam' });
    expect(gc.curves.fractions.length).toBe(Math.ceil((h * w) / (2 * h)) + 1); // 5
    expect(gc.curves.insertion[0]).toBeCloseTo(await pOf(51, 50), 5);
    expect(Math.abs(rise.curves.insertion[0] - gc.curves.insertion[0])).toBeGreaterThan(1e-3); // the presets differ
    const custom = await insertionDeletion(classifier, x, map, 0, { preset: 'groupcam', blur: { kernel: 5, sigma: 1 }, step: 7 });
    expect(custom.curves.insertion[0]).toBeCloseTo(await pOf(5, 1), 5);
    expect(custom.curves.fractions.length).toBe(Math.ceil((h * w) / 7) + 1);
    for (const r of [rise, gc, custom]) {
      expect(r.curves.insertion[r.curves.insertion.length - 1]).toBeCloseTo(full, 5); // everything inserted
      expect(r.curves.deletion[0]).toBeCloseTo(full, 5); // nothing deleted yet
      expect(r.curves.deletion[r.curves.deletion.length - 1]).toBeCloseTo(0.05, 5); // all black
    }
    tf.dispose([x, map, x4]);
  });

  it('gives the same result at any batchSize, one forward pass per batch, with progress and steady memory', async () => {
    let calls = 0;
    const sizes: number[] = [];
    const classifier = probabilityClassifier(meanLinear, [8, 8], { inputRange: [0, 1] }, (n) => { calls++; sizes.push(n); });
    const r0 = rng(3);
    const x = image(8, 8, () => r0());
    const map = mapOf(8, 8, () => r0());
    const before = tf.memory().numTensors;
    const ref = await insertionDeletion(classifier, x, map, 0, { batchSize: 1 });
    expect(calls).toBe(18); // 2 · (8 + 1) curve images
    for (const batchSize of [3, 16, 100]) {
      calls = 0; sizes.length = 0;
      const progress: number[] = [];
      const r = await insertionDeletion(classifier, x, map, 0, { batchSize, onProgress: (p) => { progress.push(p.done); expect(p.total).toBe(18); } });
      expect(calls).toBe(Math.ceil(18 / batchSize));
      expect(Math.max(...sizes)).toBe(Math.min(batchSize, 18));
      expect(progress[progress.length - 1]).toBe(18);
      expect(r.insertion).toBeCloseTo(ref.insertion, 6);
      expect(r.deletion).toBeCloseTo(ref.deletion, 6);
      r.curves.insertion.forEach((p, k) => expect(p).toBeCloseTo(ref.curves.insertion[k], 6));
      r.curves.deletion.forEach((p, k) => expect(p).toBeCloseTo(ref.curves.deletion[k], 6));
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, map]);
  });

  it('resizes the image and the map to the classifier input', async () => {
    const classifier = probabilityClassifier(meanLinear, [8, 8]);
    const r0 = rng(11);
    const big = image(16, 12, () => r0());
    const bigMap = mapOf(20, 20, (y, c) => y * 20 + c * 0.37);
    const small = tf.image.resizeBilinear(big, [8, 8], false, true);
    const smallMap = tf.squeeze(tf.image.resizeBilinear(tf.expandDims(bigMap, 2) as tf.Tensor3D, [8, 8], false, true), [2]) as tf.Tensor2D;
    const a = await insertionDeletion(classifier, big, bigMap, 0);
    const b = await insertionDeletion(classifier, small, smallMap, 0);
    expect(a.insertion).toBeCloseTo(b.insertion, 6);
    expect(a.deletion).toBeCloseTo(b.deletion, 6);
    tf.dispose([big, bigMap, small, smallMap]);
  });

  it('rejects bad input with SaliencyError codes and leaks nothing, also when aborted', async () => {
    const classifier = probabilityClassifier(meanLinear, [8, 8]);
    const x = image(8, 8, () => 0.5);
    const map = mapOf(8, 8, (y, c) => y + c);
    const nanMap = mapOf(8, 8, (y) => (y === 3 ? Number.NaN : 1));
    const x4 = tf.zeros([1, 8, 8, 3]);
    const grey = tf.zeros([8, 8, 1]);
    const before = tf.memory().numTensors;
    await expect(insertionDeletion(classifier, x, map, 2)).rejects.toMatchObject({ code: 'BAD_TARGET' });
    await expect(insertionDeletion(classifier, x, map, 0.5)).rejects.toMatchObject({ code: 'BAD_TARGET' });
    await expect(insertionDeletion(classifier, x, nanMap, 0)).rejects.toMatchObject({ code: 'NON_FINITE_INPUT' });
    await expect(insertionDeletion(classifier, x4 as tf.Tensor3D, map, 0)).rejects.toMatchObject({ code: 'BAD_RANK' });
    await expect(insertionDeletion(classifier, grey as tf.Tensor3D, map, 0)).rejects.toMatchObject({ code: 'BAD_CHANNELS' });
    await expect(insertionDeletion(classifier, x, x as unknown as tf.Tensor2D, 0)).rejects.toMatchObject({ code: 'BAD_RANK' });
    await expect(insertionDeletion(classifier, x, map, 0, { step: 0 })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(insertionDeletion(classifier, x, map, 0, { blur: { kernel: 4, sigma: 1 } })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(insertionDeletion(classifier, x, map, 0, { preset: 'lime' as 'rise' })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(insertionDeletion(classifier, x, map, 0, { batchSize: 2.5 })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    const controller = new AbortController();
    let batches = 0;
    await expect(insertionDeletion(classifier, x, map, 0, {
      batchSize: 2, signal: controller.signal, onProgress: () => { if (++batches === 3) controller.abort(); },
    })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(batches).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, map, nanMap, x4, grey]);
  });
});
