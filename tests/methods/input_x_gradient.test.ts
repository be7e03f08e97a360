import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFunction, inputXGradient, inputXGradientAttributions } from '@saliency/core';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';
import { faceSanity, type FaceSanity } from './perturbation_sanity';
import { commonChecks, randomisationRhos } from './new_method_fixtures';

beforeAll(useCpu);

describe('inputXGradient', () => {
  it('is x ⊙ w exactly on a linear model S = w·x, and the absSum map is min-max(Σ_c |x ⊙ w|)', async () => {
    const w = seeded([48, 2], 9, -1, 1) as tf.Tensor2D;
    const classifier = fromFunction((x) => tf.matMul(tf.reshape(x, [-1, 48]), w), {
      inputSize: [4, 4], channels: 3, numClasses: 2, preprocess: { inputRange: [0, 1] },
    });
    const x = seeded([2, 4, 4, 3], 10) as tf.Tensor4D;
    const attr = await inputXGradientAttributions(classifier, x, [1, 0]);
    const want = tf.tidy(() => tf.mul(x, tf.concat([
      tf.reshape(tf.slice(w, [0, 1], [48, 1]), [1, 4, 4, 3]), tf.reshape(tf.slice(w, [0, 0], [48, 1]), [1, 4, 4, 3]),
    ])));
    expect(maxAbsDiff(attr, want)).toBeLessThan(1e-6);
    const map = await inputXGradient().explain(classifier, x, [1, 0]);
    const wantMap = tf.tidy(() => {
      const s = tf.sum(tf.abs(want), -1);
      const lo = tf.min(s, [1, 2], true), hi = tf.max(s, [1, 2], true);
      return tf.div(tf.sub(s, lo), tf.sub(hi, lo));
    });
    expect(maxAbsDiff(map, wantMap)).toBeLessThan(1e-5);
    tf.dispose([attr, want, map, wantMap, x, w]);
  });

  it('reports progress, aborts, survives a throwing model, and leaks nothing', async () => {
    await commonChecks((o) => inputXGradient({ batchSize: 1, ...o }));
  });
});

describe('inputXGradient model-randomisation sanity check on the real face model, wasm', () => {
  let sanity: FaceSanity;
  beforeAll(async () => { sanity = await faceSanity(); });
  afterAll(() => sanity?.dispose());

  it('re-initialising fc and dense3 changes the map (ρ logged with the verdict)', async () => {
    const { rhos, trained } = await randomisationRhos(sanity, 'Input×Gradient', () => inputXGradient());
    expect(trained.some((v) => v !== trained[0])).toBe(true);
    for (const r of rhos) expect(r).toBeLessThan(0.95);
  });
});
