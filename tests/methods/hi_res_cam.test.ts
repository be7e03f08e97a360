import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromLayersModel, gradCam, hiResCam, minMaxNormalize } from '@saliency/core';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';
import { faceSanity, type FaceSanity } from './perturbation_sanity';
import { commonChecks, gapNet, randomisationRhos, stridedNet } from './new_method_fixtures';

beforeAll(useCpu);

describe('hiResCam', () => {
  it('coincides with Grad-CAM on a GAP + dense net (Draelos & Carin, Sec. 3)', async () => {
    const model = gapNet(31);
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([2, 8, 8, 3], 8, -1, 1) as tf.Tensor4D;
    for (const c of [0, 2]) {
      const a = await hiResCam({ layer: 'feat' }).explain(classifier, x, c);
      const b = await gradCam({ layer: 'feat' }).explain(classifier, x, c);
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
      tf.dispose([a, b]);
    }
    x.dispose();
    model.dispose();
  });

  it('is ReLU(Σ_k g_k ⊙ A_k) with the gradients taken by tf.grad in the test, and differs from Grad-CAM when the head has convolutions', async () => {
    const model = stridedNet();
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const access = classifier.at('c2');
    const x = seeded([1, 16, 16, 3], 3) as tf.Tensor4D;
    const want = tf.tidy(() => {
      const a = access.features(x);
      const g = tf.grad((ai: tf.Tensor) => tf.sum(tf.slice(access.head(ai as tf.Tensor4D, x), [0, 1], [1, 1])))(a);
      const cam = tf.relu(tf.sum(tf.mul(a, g), -1, true)) as tf.Tensor4D;
      return minMaxNormalize(tf.squeeze(tf.image.resizeBilinear(cam, [16, 16], false, true), [3]) as tf.Tensor3D);
    });
    const got = await hiResCam({ layer: 'c2' }).explain(classifier, x, 1);
    const grad = await gradCam({ layer: 'c2' }).explain(classifier, x, 1);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
    expect(maxAbsDiff(got, grad)).toBeGreaterThan(0.05);
    tf.dispose([want, got, grad, x]);
    model.dispose();
  });

  it('reports progress, aborts, survives a throwing model, and leaks nothing', async () => {
    await commonChecks((o) => hiResCam({ layer: 'feat', batchSize: 1, ...o }));
  });
});

describe('hiResCam model-randomisation sanity check on the real face model, wasm', () => {
  let sanity: FaceSanity;
  beforeAll(async () => { sanity = await faceSanity(); });
  afterAll(() => sanity?.dispose());

  it('re-initialising fc and dense3 changes the map (ρ logged with the verdict)', async () => {
    const { rhos, trained } = await randomisationRhos(sanity, 'HiResCAM', () => hiResCam({ layer: 'dense3' }));
    expect(trained.some((v) => v !== trained[0])).toBe(true);
    for (const r of rhos) expect(r).toBeLessThan(0.9);
  });
});
