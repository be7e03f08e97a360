import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFunction, occlusion } from '@saliency/core';
import { seeded, useCpu } from '../setup_cpu';
import { faceSanity, type FaceSanity } from './perturbation_sanity';
import { arr, commonChecks, minMax, randomisationRhos } from './new_method_fixtures';

beforeAll(useCpu);

/** Score = sum of the pixels (all channels) inside rows [r0, r1) × cols [c0, c1) of a 12×10 image. */
const R = { r0: 3, r1: 8, c0: 2, c1: 6 };
const H = 12, W = 10;
function rectangleClassifier() {
  const mask = tf.tensor4d(Array.from({ length: H * W * 3 }, (_, i) => {
    const p = Math.floor(i / 3), r = Math.floor(p / W), c = p % W;
    return r >= R.r0 && r < R.r1 && c >= R.c0 && c < R.c1 ? 1 : 0;
  }), [1, H, W, 3]);
  const classifier = fromFunction((x) => tf.reshape(tf.sum(tf.mul(x, mask), [1, 2, 3]), [-1, 1]) as tf.Tensor2D, {
    inputSize: [H, W], channels: 3, numClasses: 1, preprocess: { inputRange: [0, 1] },
  });
  return { classifier, dispose: () => mask.dispose() };
}

/** The expected map, by loops: every window's drop Σ_{p ∈ P ∩ R} (x_p − substrate_p), averaged per pixel over its windows. */
function expected(x: number[], sub: (i: number) => number, ph: number, pw: number, sy: number, sx: number): number[] {
  const starts = (n: number, p: number, s: number) => { const o: number[] = []; for (let v = 0; v + p <= n; v += s) o.push(v); if (o[o.length - 1] !== n - p) o.push(n - p); return o; };
  const sum = new Array<number>(H * W).fill(0), cnt = new Array<number>(H * W).fill(0);
  for (const y of starts(H, ph, sy)) {
    for (const xx of starts(W, pw, sx)) {
      let drop = 0;
      for (let r = y; r < y + ph; r++) for (let c = xx; c < xx + pw; c++) {
        if (r >= R.r0 && r < R.r1 && c >= R.c0 && c < R.c1) for (let k = 0; k < 3; k++) drop += x[(r * W + c) * 3 + k]! - sub((r * W + c) * 3 + k);
      }
      for (let r = y; r < y + ph; r++) for (let c = xx; c < xx + pw; c++) { sum[r * W + c] += drop; cnt[r * W + c] += 1; }
    }
  }
  return minMax(sum.map((s, i) => s / cnt[i]!));
}

describe('occlusion', () => {
  it("on a score that sums a known rectangle, the map is the rectangle's box-filtered indicator (ones image) and its loop-computed analogue (random image, zero and mean substrates)", async () => {
    const { classifier, dispose } = rectangleClassifier();
    const ones = tf.ones([1, H, W, 3]) as tf.Tensor4D;
    const rand = seeded([1, H, W, 3], 5) as tf.Tensor4D;
    for (const [ph, pw, sy, sx] of [[3, 3, 1, 1], [4, 3, 2, 2], [5, 4, 3, 3]] as const) {
      for (const batchSize of [1, 7, 64]) {
        const m1 = await occlusion({ patch: [ph, pw], stride: [sy, sx], score: 'logit', batchSize }).explain(classifier, ones, 0);
        const want1 = expected(new Array(H * W * 3).fill(1), () => 0, ph, pw, sy, sx);
        arr(m1).forEach((v, i) => expect(v).toBeCloseTo(want1[i]!, 5));
        m1.dispose();
      }
      const xr = arr(rand);
      const m2 = await occlusion({ patch: [ph, pw], stride: [sy, sx], score: 'logit' }).explain(classifier, rand, 0);
      const want2 = expected(xr, () => 0, ph, pw, sy, sx);
      arr(m2).forEach((v, i) => expect(v).toBeCloseTo(want2[i]!, 5));
      const means = [0, 1, 2].map((k) => xr.filter((_, i) => i % 3 === k).reduce((s, e) => s + e, 0) / (H * W));
      const m3 = await occlusion({ patch: [ph, pw], stride: [sy, sx], score: 'logit', substrate: 'mean' }).explain(classifier, rand, 0);
      const want3 = expected(xr, (i) => means[i % 3]!, ph, pw, sy, sx);
      arr(m3).forEach((v, i) => expect(v).toBeCloseTo(want3[i]!, 5));
      tf.dispose([m2, m3]);
    }
    tf.dispose([ones, rand]);
    dispose();
  });

  it('rejects bad options', () => {
    expect(() => occlusion({ patch: 0 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => occlusion({ substrate: 'grey' as never })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => occlusion({ score: 'prob' as never })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
  });

  it('reports progress, aborts, survives a throwing model, and leaks nothing', async () => {
    await commonChecks((o) => occlusion({ patch: 3, stride: 2, batchSize: 4, ...o }), 4);
  });
});

describe('occlusion model-randomisation sanity check on the real face model, wasm', () => {
  let sanity: FaceSanity;
  beforeAll(async () => { sanity = await faceSanity(); });
  afterAll(() => sanity?.dispose());

  it('re-initialising fc and dense3 changes the map (ρ logged with the verdict)', async () => {
    const { rhos, trained } = await randomisationRhos(sanity, 'Occlusion', () => occlusion());
    expect(trained.some((v) => v !== trained[0])).toBe(true);
    for (const r of rhos) expect(r).toBeLessThan(0.9);
  }, 120_000);
});
