import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromLayersModel, gradCam, inputGradient, xGradCam, xGradCamWeights } from '@saliency/core';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';
import { faceSanity, type FaceSanity } from './perturbation_sanity';
import { arr, commonChecks, gapNet, randomisationRhos } from './new_method_fixtures';

beforeAll(useCpu);

describe('xGradCam', () => {
  it('on a GAP + dense net its weights are the dense weights (÷ h·w) and its map is CAM', async () => {
    const model = gapNet(21);
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const access = classifier.at('feat');
    const x = seeded([2, 8, 8, 3], 4, -1, 1) as tf.Tensor4D;
    const kernel = arr(model.getLayer('fc').getWeights()[0]!); // [5, 4] row-major
    for (const c of [1, 3]) {
      const a = access.features(x);
      const g = inputGradient((ai: tf.Tensor4D) => tf.sum(tf.slice(access.head(ai, x), [0, c], [-1, 1])), a);
      const w = xGradCamWeights(a, g); // [2, 1, 1, 5]
      const got = arr(w);
      for (let i = 0; i < 2; i++) for (let k = 0; k < 5; k++) expect(got[i * 5 + k]! * 64).toBeCloseTo(kernel[k * 4 + c]!, 4);
      const maps = await xGradCam({ layer: 'feat' }).explain(classifier, x, c);
      const cams = await gradCam({ layer: 'feat' }).explain(classifier, x, c); // = CAM on this net (tests/methods/gradcam.test.ts)
      expect(maxAbsDiff(maps, cams)).toBeLessThan(1e-5);
      tf.dispose([a, g, w, maps, cams]);
    }
    x.dispose();
    model.dispose();
  });

  it('gives a channel whose activations sum to 0 the weight 0 (no NaN)', () => {
    const a = tf.tensor4d([0, 1, 0, 2, 0, 3, 0, 4], [1, 2, 2, 2]);
    const g = tf.tensor4d([5, 1, 5, 1, 5, 1, 5, 1], [1, 2, 2, 2]);
    const w = arr(xGradCamWeights(a, g));
    expect(w[0]).toBe(0);
    expect(w[1]).toBeCloseTo(1, 6);
    tf.dispose([a, g]);
  });

  it('reports progress, aborts, survives a throwing model, and leaks nothing', async () => {
    await commonChecks((o) => xGradCam({ layer: 'feat', batchSize: 1, ...o }));
  });
});

describe('xGradCam model-randomisation sanity check on the real face model, wasm', () => {
  let sanity: FaceSanity;
  beforeAll(async () => { sanity = await faceSanity(); });
  afterAll(() => sanity?.dispose());

  it('re-initialising fc and dense3 changes the map (ρ logged with the verdict)', async () => {
    const { rhos, trained } = await randomisationRhos(sanity, 'XGrad-CAM', () => xGradCam({ layer: 'dense3' }));
    expect(trained.some((v) => v !== trained[0])).toBe(true);
    for (const r of rhos) expect(r).toBeLessThan(0.9);
  });
});
