import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fromFunction, gaussianBlur, integratedGradients, integratedGradientsAttributions, quadratureRule, type CompletenessReport,
} from '@saliency/core';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionClassifier, sampleFaces } from '@saliency/models';
import { generateLocalisationSet } from '../../packages/eval/src/datasets/index';
import { loadGeneratedClassifier } from '../../packages/models/src/generated_cnn';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';
import { faceSanity, type FaceSanity } from './perturbation_sanity';
import { arr, commonChecks, randomisationRhos } from './new_method_fixtures';

beforeAll(useCpu);

/** S = W·x: 2 classes on 6×5×3 images in [0, 1], no preprocessing. */
function linearModel() {
  const w = seeded([90, 2], 3, -1, 1) as tf.Tensor2D;
  const classifier = fromFunction((x) => tf.matMul(tf.reshape(x, [-1, 90]), w), {
    inputSize: [6, 5], channels: 3, numClasses: 2, preprocess: { inputRange: [0, 1] },
  });
  const column = (c: number) => tf.reshape(tf.slice(w, [0, c], [90, 1]), [1, 6, 5, 3]);
  return { classifier, column, dispose: () => w.dispose() };
}

describe('quadratureRule', () => {
  it('Gauss–Legendre with m points integrates α^k exactly on [0, 1] for k < 2m; the others have weights summing to 1', () => {
    for (const m of [1, 2, 5, 50]) {
      const { alphas, weights } = quadratureRule('gauss-legendre', m);
      for (let k = 0; k < Math.min(2 * m, 30); k++) {
        const s = alphas.reduce((acc, a, i) => acc + weights[i]! * a ** k, 0);
        expect(s).toBeCloseTo(1 / (k + 1), 12);
      }
      expect(alphas.every((a) => a > 0 && a < 1)).toBe(true);
    }
    const t = quadratureRule('trapezoid', 5);
    expect(t.alphas).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(t.weights).toEqual([0.125, 0.25, 0.25, 0.25, 0.125]);
    const r = quadratureRule('riemann', 4);
    expect(r.alphas).toEqual([0.25, 0.5, 0.75, 1]);
    expect(r.weights).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(() => quadratureRule('trapezoid', 1)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
  });
});

describe('integratedGradients on a linear model S = w·x', () => {
  it('is (x − x′) ⊙ w exactly for every rule and baseline, with zero completeness error', async () => {
    const { classifier, column, dispose } = linearModel();
    const x = seeded([2, 6, 5, 3], 11) as tf.Tensor4D;
    const given = seeded([1, 6, 5, 3], 12) as tf.Tensor4D;
    const blurred = gaussianBlur(x, { kernelSize: 5, sigma: 2 });
    const cases: { baseline: 'black' | 'blurred' | tf.Tensor4D; ref: (i: number) => tf.Tensor }[] = [
      { baseline: 'black', ref: () => tf.zeros([1, 6, 5, 3]) },
      { baseline: given, ref: () => tf.clone(given) },
      { baseline: 'blurred', ref: (i) => tf.slice(blurred, [i, 0, 0, 0], [1, -1, -1, -1]) },
    ];
    for (const rule of ['riemann', 'trapezoid', 'gauss-legendre'] as const) {
      for (const { baseline, ref } of cases) {
        const { attributions, completeness } = await integratedGradientsAttributions(classifier, x, [0, 1], {
          steps: 7, rule, baseline, blur: { kernelSize: 5, sigma: 2 }, batchSize: 3,
        });
        for (let i = 0; i < 2; i++) {
          const want = tf.tidy(() => tf.mul(tf.sub(tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]), ref(i)), column(i)));
          const got = tf.slice(attributions, [i, 0, 0, 0], [1, -1, -1, -1]);
          expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
          tf.dispose([want, got]);
          expect(Math.abs(completeness[i]!.error)).toBeLessThan(1e-4);
        }
        attributions.dispose();
      }
    }
    tf.dispose([x, given, blurred]);
    dispose();
  });

  it('the uniform-noise baseline is seeded, lies in the input range, and completeness still holds', async () => {
    const { classifier, column, dispose } = linearModel();
    const x = seeded([1, 6, 5, 3], 13) as tf.Tensor4D;
    const run = (seed: number) => integratedGradientsAttributions(classifier, x, [0], { steps: 3, baseline: 'uniform-noise', seed });
    const a = await run(4), b = await run(4), c = await run(5);
    expect(maxAbsDiff(a.attributions, b.attributions)).toBe(0);
    expect(maxAbsDiff(a.attributions, c.attributions)).toBeGreaterThan(0.01);
    // x′ = x − attributions / w must lie in [0, 1].
    const base = arr(tf.tidy(() => tf.sub(x, tf.div(a.attributions, column(0)))));
    expect(Math.min(...base)).toBeGreaterThanOrEqual(-1e-4);
    expect(Math.max(...base)).toBeLessThanOrEqual(1 + 1e-4);
    expect(Math.abs(a.completeness[0]!.error)).toBeLessThan(1e-4);
    tf.dispose([a.attributions, b.attributions, c.attributions, x]);
    dispose();
  });

  it("the map is the channel aggregate of the attributions, and onCompleteness receives one report per image", async () => {
    const { classifier, column, dispose } = linearModel();
    const x = seeded([2, 6, 5, 3], 14) as tf.Tensor4D;
    let reports: CompletenessReport[] = [];
    const map = await integratedGradients({ aggregate: 'signed', steps: 4, onCompleteness: (r) => { reports = r; } }).explain(classifier, x, [1, 0]);
    const want = tf.tidy(() => {
      const attr = tf.mul(x, tf.concat([column(1), column(0)]));
      const s = tf.sum(attr, -1);
      const lo = tf.min(s, [1, 2], true), hi = tf.max(s, [1, 2], true);
      return tf.div(tf.sub(s, lo), tf.sub(hi, lo));
    });
    expect(maxAbsDiff(map, want)).toBeLessThan(1e-5);
    expect(reports.map((r) => r.target)).toEqual([1, 0]);
    for (const r of reports) expect(r.attributionSum).toBeCloseTo(r.score - r.baselineScore, 4);
    tf.dispose([map, want, x]);
    dispose();
  });

  it('rejects bad options and a baseline of the wrong shape without leaking', async () => {
    expect(() => integratedGradients({ steps: 0 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => integratedGradients({ rule: 'simpson' as never })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => integratedGradients({ baseline: 'grey' as never })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    const { classifier, dispose } = linearModel();
    const x = seeded([1, 6, 5, 3], 15) as tf.Tensor4D;
    const bad = tf.zeros([1, 5, 5, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    await expect(integratedGradients({ baseline: bad }).explain(classifier, x, 0)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, bad]);
    dispose();
  });

  it('reports progress, aborts, survives a throwing model, and leaks nothing', async () => {
    await commonChecks((o) => integratedGradients({ steps: 6, batchSize: 2, ...o }), 3);
  });
});

describe('integratedGradients completeness on real conv nets, wasm', () => {
  it('holds to < 1 % with 128 steps on the bundled digit CNN (Riemann and Gauss–Legendre)', async () => {
    const choice = await initBackend({ quiet: true });
    expect(choice.name).toBe('wasm');
    const { classifier, dispose } = await loadGeneratedClassifier();
    const [smp] = generateLocalisationSet({ seed: 4243, count: 1, split: 'test', size: [96, 96] });
    const x = tf.tensor4d(Float32Array.from(smp!.pixels), [1, 96, 96, 3]);
    const before = tf.memory().numTensors;
    for (const rule of ['riemann', 'gauss-legendre'] as const) {
      const { attributions, completeness } = await integratedGradientsAttributions(classifier, x, [smp!.label], { steps: 128, rule, batchSize: 8 });
      const r = completeness[0]!;
      console.log(`IG digits ${rule}, black, 128 steps: Σ attr ${r.attributionSum.toFixed(4)}, S(x) − S(x′) ${(r.score - r.baselineScore).toFixed(4)}, relative error ${(100 * r.relativeError).toFixed(3)} %`);
      expect(Math.abs(r.score - r.baselineScore)).toBeGreaterThan(0.5); // a real difference to explain
      expect(r.relativeError).toBeLessThan(0.01);
      attributions.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    dispose();
  }, 300_000);

  // MEASURED: on the face model the path from black is very rough (the directional derivative swings
  // between −30 and +35 within α ∈ [0, 0.2], checked against finite differences), so 128 steps leave
  // ≈ 6 % (Riemann 6.05 %, trapezoid 6.27 %, Gauss–Legendre 6.30 %; trapezoid 512 steps 4.9 %). Pinned
  // as measured: below 10 %, and logged.
  it('on the face model the error with 128 steps is logged (≈ 6 %, below 10 %)', async () => {
    const { classifier, dispose } = await loadFaceExpressionClassifier();
    const { path, faces } = sampleFaces()[0]!;
    const img = await readImage(path, { region: faces[0]!.box, square: true });
    const x = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]), [112, 112], false, true));
    const { attributions, completeness } = await integratedGradientsAttributions(classifier, x, 'top', { steps: 128, rule: 'riemann', batchSize: 8 });
    const r = completeness[0]!;
    console.log(`IG face riemann, black, 128 steps: relative error ${(100 * r.relativeError).toFixed(3)} %`);
    expect(r.relativeError).toBeLessThan(0.1);
    attributions.dispose();
    x.dispose();
    dispose();
  }, 300_000);
});

describe('integratedGradients model-randomisation sanity check on the real face model, wasm', () => {
  let sanity: FaceSanity;
  beforeAll(async () => { sanity = await faceSanity(); });
  afterAll(() => sanity?.dispose());

  it('re-initialising fc and dense3 changes the map (ρ logged with the verdict)', async () => {
    const { rhos, trained } = await randomisationRhos(sanity, 'Integrated Gradients (32 steps)', () => integratedGradients({ steps: 32 }));
    expect(trained.some((v) => v !== trained[0])).toBe(true);
    for (const r of rhos) expect(r).toBeLessThan(0.9);
  }, 300_000);
});
