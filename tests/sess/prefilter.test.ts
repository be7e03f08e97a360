import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradCam } from '@saliency/core';
import { prefilterDropCount, prefilterKeep, scorePatches, sess, sessPatches, sessScales, type SessPatch } from '@saliency/sess';
import { countingClassifier, countingMethod, tinyClassifier } from './helpers';
import { rng, seeded, useCpu } from '../setup_cpu';

let tiny: ReturnType<typeof tinyClassifier>;
beforeAll(async () => {
  await useCpu();
  tiny = tinyClassifier();
});
afterAll(() => tiny.dispose());

/** One patch cut and scored on its own (no batching): the independent truth. */
function patchInput(image: tf.Tensor4D, p: SessPatch): tf.Tensor4D {
  return tf.tidy(() => tf.slice(tf.image.resizeBilinear(image, [p.scaledSize[0], p.scaledSize[1]], false, true), [0, p.top, p.left, 0], [1, 16, 16, 3]) as tf.Tensor4D);
}

describe('SESS pre-filter (design.md §4 step 3)', () => {
  it('drops the lowest floor(N·r) scores (the reference int(N·r)); ties drop the earlier patch', () => {
    expect(prefilterKeep([0.9, 0.1, 0.5, 0.3], 0.5)).toEqual([0, 2]);
    expect(prefilterKeep([0.9, 0.1, 0.5, 0.3], 0)).toEqual([0, 1, 2, 3]);
    expect(prefilterKeep([0.9, 0.1, 0.5, 0.3], 0.24)).toEqual([0, 1, 2, 3]); // int(0.96) = 0 dropped
    expect(prefilterKeep([0.9, 0.1, 0.5, 0.3], 0.25)).toEqual([0, 2, 3]); // int(1) = 1 dropped (0.1)
    expect(prefilterKeep([0.9, 0.1, 0.5, 0.3], 0.74)).toEqual([0, 2]); // int(2.96) = 2 dropped (0.1 and 0.3)
    expect(prefilterKeep([0.9, 0.1, 0.5, 0.3], 0.75)).toEqual([0]); // int(3) = 3 dropped
    expect(prefilterKeep([0.2, 0.2, 0.2], 0.5)).toEqual([1, 2]);
    // 10·0.3 is 3.0000000000000004 in floating point: 3 dropped and 7 kept, as Python's int(10 * 0.3) gives.
    expect(prefilterDropCount(10, 0.3)).toBe(3);
    expect(prefilterKeep(Array.from({ length: 10 }, (_, i) => i), 0.3)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    // 122 patches at the paper's quantitative r = 0.9: int(109.8) = 109 dropped, 13 kept.
    expect(prefilterDropCount(122, 0.9)).toBe(109);
    expect(() => prefilterKeep([1], 1)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
  });

  it('keeps exactly ⌈N·(1 − r)⌉ patches, every kept score ≥ every dropped one, for N 1…150 and several r', () => {
    const r = rng(3);
    for (let n = 1; n <= 150; n++) {
      const scores = Array.from({ length: n }, () => Math.round(r() * 20) / 20); // many ties
      for (const ratio of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]) {
        const kept = prefilterKeep(scores, ratio);
        // Exact rational arithmetic for ⌈N·(1 − r)⌉: r = a/100.
        const a = Math.round(ratio * 100);
        const want = n - Math.floor((n * a) / 100);
        expect(kept.length).toBe(want);
        expect(kept.length).toBe(Math.ceil((n * (100 - a)) / 100));
        const keptSet = new Set(kept);
        const dropped = scores.filter((_, i) => !keptSet.has(i));
        if (dropped.length > 0) expect(Math.min(...kept.map((i) => scores[i]))).toBeGreaterThanOrEqual(Math.max(...dropped));
        expect([...kept].sort((x, y) => x - y)).toEqual(kept);
      }
    }
  });

  it('scores every patch in batched forward passes equal to scoring them one at a time', async () => {
    const image = seeded([1, 30, 22, 3], 11) as tf.Tensor4D;
    const patches = sessPatches([30, 22], { scales: sessScales(16, 4), window: [16, 16], step: [16, 16] });
    const counted = countingClassifier(tiny.classifier);
    const before = tf.memory().numTensors;
    const got = await scorePatches(counted.classifier, image, patches, 2, 5);
    expect(tf.memory().numTensors).toBe(before);
    expect(counted.calls.probabilities).toEqual(Array.from({ length: Math.ceil(patches.length / 5) }, (_, i) => Math.min(5, patches.length - 5 * i)));
    const want = patches.map((p) => tf.tidy(() => tiny.classifier.probabilities(patchInput(image, p)).dataSync()[2]));
    expect(got.length).toBe(patches.length);
    want.forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThan(1e-6));
    expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(1e-3); // the patches really differ
    image.dispose();
  });

  it('hands the base method exactly the top-scoring patches', async () => {
    const image = seeded([1, 26, 40, 3], 12) as tf.Tensor4D;
    const patches = sessPatches([26, 40], { scales: sessScales(16, 4), window: [16, 16], step: [16, 16] });
    const target = 1;
    const probs = patches.map((p) => tf.tidy(() => tiny.classifier.probabilities(patchInput(image, p)).dataSync()[target]));
    const sums = patches.map((p) => tf.tidy(() => tf.sum(patchInput(image, p)).dataSync()[0]));
    for (const ratio of [0.5, 0.9]) {
      const nKeep = patches.length - Math.floor(patches.length * ratio);
      const top = probs.map((_, i) => i).sort((a, b) => probs[b] - probs[a]).slice(0, nKeep).sort((a, b) => a - b);
      const { method, calls } = countingMethod(gradCam({ layer: 'feat' }));
      const map = await sess(method, { scales: 4, preFilterRatio: ratio, batchSize: 4 }).explain(tiny.classifier, image, target);
      map.dispose();
      expect(calls.images.length).toBe(nKeep);
      calls.images.forEach((im, i) => {
        expect(Math.abs(im.sum - sums[top[i]])).toBeLessThan(1e-3);
        expect(im.target).toBe(target);
      });
    }
    image.dispose();
  });
});
