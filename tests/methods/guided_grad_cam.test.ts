import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromLayersModel, gradCam, guidedGradCam, guidedGradient, minMaxNormalize } from '@saliency/core';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';
import { faceSanity, type FaceSanity } from './perturbation_sanity';
import { commonChecks, randomisationRhos, stridedNet } from './new_method_fixtures';

beforeAll(useCpu);

describe('guidedGradCam', () => {
  it('is min-max(max_c |guided gradient ⊙ up-sampled Grad-CAM|)', async () => {
    const model = stridedNet();
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([2, 16, 16, 3], 41) as tf.Tensor4D;
    const cam = await gradCam({ layer: 'c2' }).explain(classifier, x, [0, 1]);
    const g = guidedGradient(classifier)(x, [0, 1]);
    const want = tf.tidy(() => {
      return minMaxNormalize(tf.max(tf.abs(tf.mul(g, tf.expandDims(cam, 3))), -1) as tf.Tensor3D);
    });
    const got = await guidedGradCam({ layer: 'c2', batchSize: 1 }).explain(classifier, x, [0, 1]);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
    expect(tf.tidy(() => tf.max(got).dataSync()[0])).toBeCloseTo(1, 5); // at least one map is not trivial
    tf.dispose([cam, g, want, got, x]);
    model.dispose();
  });

  it('reports progress, aborts, survives a throwing model, and leaks nothing', async () => {
    await commonChecks((o) => guidedGradCam({ layer: 'feat', batchSize: 1, ...o }));
  });
});

describe('guidedGradCam model-randomisation sanity check on the real face model, wasm', () => {
  let sanity: FaceSanity;
  beforeAll(async () => { sanity = await faceSanity(); });
  afterAll(() => sanity?.dispose());

  it('re-initialising fc and dense3 changes the map (ρ logged with the verdict)', async () => {
    const { rhos, trained } = await randomisationRhos(sanity, 'Guided Grad-CAM', () => guidedGradCam({ layer: 'dense3' }));
    expect(trained.some((v) => v !== trained[0])).toBe(true);
    for (const r of rhos) expect(r).toBeLessThan(0.95);
  });
});
