import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, gradCam, vanillaGradient, type Progress } from '@saliency/core';
import { sess, sessPatches, sessScales, prefilterDropCount } from '@saliency/sess';
import { countingClassifier, countingMethod, referenceSess, tinyClassifier } from './helpers';
import { seeded, useCpu } from '../setup_cpu';

let tiny: ReturnType<typeof tinyClassifier>;
beforeAll(async () => {
  await useCpu();
  tiny = tinyClassifier();
});
afterAll(() => tiny.dispose());

const cam = () => gradCam({ layer: 'feat' });
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

describe('sess()', () => {
  it('one scale on a square image of the model input size is one patch: exactly the base map (no smoothing)', async () => {
    const x = seeded([1, 16, 16, 3], 1) as tf.Tensor4D;
    for (const [base, target] of [[cam(), 2], [vanillaGradient(), 1], [cam(), 'top']] as const) {
      const want = await base.explain(tiny.classifier, x, target);
      const got = await sess(base, { scales: 1, smooth: false }).explain(tiny.classifier, x, target);
      expect(got.shape).toEqual([1, 16, 16]);
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0])).toBe(0);
      expect(tf.tidy(() => tf.max(want).dataSync()[0])).toBe(1); // a real map, not a degenerate one
      tf.dispose([want, got]);
    }
    x.dispose();
  });

  it.each([
    ['3 scales, r 0, θ 0, smoothing on (the qualitative defaults)', { scales: 3 }, { ratio: 0, smooth: true }],
    ['r 0.5, θ 0.1, no smoothing', { scales: 3, preFilterRatio: 0.5, theta: 0.1, smooth: false }, { ratio: 0.5, theta: 0.1 }],
    ["pool 'max', step 5", { scales: 2, step: 5, pool: 'max' as const, smooth: false }, { pool: 'max' as const, step: 5 }],
    ['a 20-pixel window on the 16-pixel model', { scales: [20, 27], window: 20, smooth: false }, { window: 20, scales: [20, 27] }],
  ])('equals an unbatched one-patch-at-a-time reference loop: %s', async (_label, opts, ref) => {
    const x = seeded([1, 24, 32, 3], 2) as tf.Tensor4D; // landscape, not a multiple of the window
    const scales = 'scales' in ref && ref.scales != null ? ref.scales : sessScales(16, opts.scales as number);
    const want = await referenceSess(cam(), tiny.classifier, x, { window: 16, ...ref, scales });
    const got = await sess(cam(), { batchSize: 5, ...opts }).explain(tiny.classifier, x, 'top');
    expect(got.shape).toEqual([1, 24, 32]);
    const g = await got.data();
    expect(maxDiff(g, want)).toBeLessThan(1e-5);
    expect(Math.max(...g)).toBeCloseTo(1, 6);
    expect(Math.min(...g)).toBe(0);
    got.dispose();
    x.dispose();
  });

  it('calls the base method once per BATCH of kept patches and the model once per batch of all patches', async () => {
    const x = seeded([1, 24, 32, 3], 3) as tf.Tensor4D;
    const total = sessPatches([24, 32], { scales: sessScales(16, 5), window: [16, 16], step: [16, 16] }).length;
    // By hand: scales 16, 21, 25, 30, 34; widths 21, 28, 33, 40, 45 → 1×2, 2×2, 2×3, 2×3, 3×3 windows = 2 + 4 + 6 + 6 + 9.
    expect(total).toBe(27);
    for (const [ratio, kept] of [[0, 27], [0.5, 14], [0.9, 3]] as const) {
      expect(total - prefilterDropCount(total, ratio)).toBe(kept); // int(27·r) dropped: 0, 13, 24
      const { method, calls } = countingMethod(cam());
      const counted = countingClassifier(tiny.classifier);
      const map = await sess(method, { scales: 5, batchSize: 6, preFilterRatio: ratio }).explain(counted.classifier, x, 'top');
      map.dispose();
      const batches = (n: number) => Array.from({ length: Math.ceil(n / 6) }, (_, i) => Math.min(6, n - 6 * i));
      expect(calls.sizes).toEqual(batches(kept));
      expect(counted.calls.probabilities).toEqual(batches(total)); // the pre-filter: one forward pass per batch
      expect(counted.calls.logits).toEqual([1]); // 'top' on the whole image
      // Grad-CAM (batchSize 8 by default) inside: one features pass and one backward per sub-batch of ≤ 8.
      expect(counted.calls.head).toEqual(batches(kept).flatMap((b) => (b > 8 ? [8, b - 8] : [b])));
      expect(calls.images.every((im) => im.shape.join() === '16,16,3')).toBe(true);
    }
    x.dispose();
  });

  it('does not depend on the batch size', async () => {
    const x = seeded([1, 30, 20, 3], 4) as tf.Tensor4D;
    const maps = [];
    for (const batchSize of [1, 7, 100]) maps.push(await (await sess(cam(), { scales: 3, batchSize, preFilterRatio: 0.3 }).explain(tiny.classifier, x, 1)).array());
    expect(maxDiff(maps[0].flat(2), maps[1].flat(2))).toBeLessThan(1e-6);
    expect(maxDiff(maps[0].flat(2), maps[2].flat(2))).toBeLessThan(1e-6);
    x.dispose();
  });

  it('explains a batch of images one by one, with their own targets', async () => {
    const a = seeded([1, 20, 28, 3], 5) as tf.Tensor4D;
    const b = seeded([1, 20, 28, 3], 6) as tf.Tensor4D;
    const ab = tf.concat([a, b]) as tf.Tensor4D;
    const method = sess(cam(), { scales: 2 });
    const both = await method.explain(tiny.classifier, ab, [0, 2]);
    const onlyA = await method.explain(tiny.classifier, a, 0);
    const onlyB = await method.explain(tiny.classifier, b, 2);
    const [ba, bb] = tf.split(both, 2);
    expect(maxDiff(await ba.data(), await onlyA.data())).toBeLessThan(1e-6);
    expect(maxDiff(await bb.data(), await onlyB.data())).toBeLessThan(1e-6);
    expect(maxDiff(await onlyA.data(), await onlyB.data())).toBeGreaterThan(0.05);
    tf.dispose([a, b, ab, both, onlyA, onlyB, ba, bb]);
  });

  it('is an any-size method: explain() hands it the image at its own size and returns a map of that size', async () => {
    const { method, calls } = countingMethod(cam());
    const s = sess(method, { scales: 2 });
    expect(s.anySize).toBe(true);
    expect(s.name).toBe('sess(counting(gradcam))');
    const data = new Uint8Array(37 * 23 * 3).map((_, i) => (i * 37) % 251);
    const before = tf.memory().numTensors;
    const map = await explain(s, { ...tiny.classifier, inputRange: [0, 255], preprocess: (x) => tiny.classifier.preprocess(tf.div(x, 255)) }, { data, width: 37, height: 23 });
    expect(map.shape).toEqual([23, 37]);
    expect(calls.images.every((im) => im.shape.join() === '16,16,3')).toBe(true);
    const [lo, hi] = tf.tidy(() => [tf.min(map).dataSync()[0], tf.max(map).dataSync()[0]]);
    expect([lo, hi]).toEqual([0, 1]);
    map.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports progress per batch in two phases and leaves numTensors unchanged', async () => {
    const x = seeded([2, 24, 32, 3], 7) as tf.Tensor4D;
    const seen: Progress[] = [];
    const before = tf.memory().numTensors;
    const map = await sess(cam(), { scales: 3, batchSize: 4, preFilterRatio: 0.5, onProgress: (p) => seen.push(p) }).explain(tiny.classifier, x, 'top');
    map.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // 12 patches per image (2 + 4 + 6), 6 kept: per image 3 pre-filter batches then 2 saliency batches.
    const pre = seen.filter((p) => p.phase === 'prefilter');
    const sal = seen.filter((p) => p.phase === 'saliency');
    expect(pre.map((p) => p.done)).toEqual([4, 8, 12, 16, 20, 24]);
    expect(pre.every((p) => p.total === 24)).toBe(true);
    expect(sal.map((p) => p.done)).toEqual([4, 6, 10, 12]);
    expect(sal.every((p) => p.total === 12)).toBe(true);
    expect(seen.map((p) => p.phase)).toEqual(['prefilter', 'prefilter', 'prefilter', 'saliency', 'saliency', 'prefilter', 'prefilter', 'prefilter', 'saliency', 'saliency']);
    x.dispose();
  });

  it('aborts between batches with ABORTED and leaks nothing, in either phase', async () => {
    const x = seeded([1, 24, 32, 3], 8) as tf.Tensor4D;
    for (const phase of ['prefilter', 'saliency']) {
      const controller = new AbortController();
      const { method, calls } = countingMethod(cam());
      const before = tf.memory().numTensors;
      const run = sess(method, {
        scales: 3, batchSize: 4, signal: controller.signal,
        onProgress: (p) => { if (p.phase === phase) controller.abort(); },
      }).explain(tiny.classifier, x, 'top');
      await expect(run).rejects.toMatchObject({ name: 'SaliencyError', code: 'ABORTED' });
      expect(calls.sizes.length).toBe(phase === 'prefilter' ? 0 : 1); // stopped right after the first batch
      expect(tf.memory().numTensors).toBe(before);
    }
    const controller = new AbortController();
    controller.abort();
    await expect(sess(cam(), { signal: controller.signal }).explain(tiny.classifier, x, 0)).rejects.toMatchObject({ code: 'ABORTED' });
    x.dispose();
  });

  it('sees a signal fired by a timer while it runs (it yields to the event loop between batches)', async () => {
    const x = seeded([1, 100, 120, 3], 13) as tf.Tensor4D;
    const controller = new AbortController();
    const { method, calls } = countingMethod(cam());
    const before = tf.memory().numTensors;
    const total = sessPatches([100, 120], { scales: sessScales(16, 12), window: [16, 16], step: [16, 16] }).length;
    setTimeout(() => controller.abort(), 20);
    await expect(sess(method, { batchSize: 4, signal: controller.signal }).explain(tiny.classifier, x, 'top')).rejects.toMatchObject({ code: 'ABORTED' });
    expect(calls.sizes.length).toBeLessThan(Math.ceil(total / 4));
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('leaks nothing when the base method throws part-way', async () => {
    const x = seeded([1, 24, 32, 3], 9) as tf.Tensor4D;
    const { method, calls } = countingMethod(cam(), 2);
    const before = tf.memory().numTensors;
    await expect(sess(method, { scales: 3, batchSize: 4 }).explain(tiny.classifier, x, 'top')).rejects.toThrow('planned failure on call 2');
    expect(calls.sizes).toEqual([4, 4]);
    expect(tf.memory().numTensors).toBe(before);
    // The base method's own errors pass through with their codes.
    await expect(sess(gradCam({ layer: 'nope' }), { scales: 1 }).explain(tiny.classifier, x, 0)).rejects.toMatchObject({ code: 'UNKNOWN_LAYER' });
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('rejects bad options and inputs with codes and messages that say what to do', async () => {
    const bad = (opts: object) => () => sess(cam(), opts);
    expect(bad({ scales: 0 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION', message: expect.stringContaining('scales') }));
    expect(bad({ scales: [] })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(bad({ preFilterRatio: 1 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION', message: expect.stringContaining('[0, 1)') }));
    expect(bad({ preFilterRatio: -0.1 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(bad({ theta: -1 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(bad({ pool: 'avg' })).toThrow(expect.objectContaining({ code: 'BAD_OPTION', message: expect.stringContaining("'mean' or 'max'") }));
    expect(bad({ smooth: { kernelSize: 10, sigma: 5 } })).toThrow(expect.objectContaining({ code: 'BAD_OPTION', message: expect.stringContaining('odd') }));
    expect(bad({ batchSize: 0 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(bad({ window: [16, 0] })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => sess(undefined as never)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    const x = seeded([1, 24, 32, 3], 10) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    await expect(sess(cam(), { scales: [12] }).explain(tiny.classifier, x, 0)).rejects.toMatchObject({ code: 'BAD_OPTION', message: expect.stringContaining('at least 16') });
    await expect(sess(cam()).explain(tiny.classifier, x, 3)).rejects.toMatchObject({ code: 'BAD_TARGET' });
    await expect(sess(cam()).explain(tiny.classifier, x, [0, 1])).rejects.toMatchObject({ code: 'BAD_TARGET' });
    const rank3 = tf.zeros([24, 32, 3]);
    await expect(sess(cam()).explain(tiny.classifier, rank3 as never, 0)).rejects.toMatchObject({ code: 'BAD_RANK' });
    const nan = tf.fill([1, 20, 20, 3], NaN) as tf.Tensor4D;
    const gray = tf.zeros([1, 20, 20, 1]) as tf.Tensor4D;
    await expect(sess(cam()).explain(tiny.classifier, nan, 0)).rejects.toMatchObject({ code: 'NON_FINITE_INPUT' });
    await expect(sess(cam()).explain(tiny.classifier, gray, 0)).rejects.toMatchObject({ code: 'BAD_CHANNELS' });
    tf.dispose([rank3, nan, gray]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
