import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromLayersModel, layerCam, minMaxNormalize } from '@saliency/core';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';
import { faceSanity, type FaceSanity } from './perturbation_sanity';
import { A_2X2X2, LINEAR_HEAD_V, arr, commonChecks, linearHead2x2, minMax, randomisationRhos, stridedNet } from './new_method_fixtures';

beforeAll(useCpu);

describe('layerCam', () => {
  it('equals ReLU(Σ_k ReLU(g_k) ⊙ A_k) computed by hand on a 2×2×2 feature map with a linear head', async () => {
    const { classifier, dispose } = linearHead2x2();
    const x = tf.tensor4d(A_2X2X2.flat(2), [1, 2, 2, 2]);
    for (const c of [0, 1]) {
      const g = LINEAR_HEAD_V[c]!;
      const cam: number[] = [];
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 2; j++) {
          let s = 0;
          for (let k = 0; k < 2; k++) s += Math.max(0, g[i]![j]![k]!) * A_2X2X2[i]![j]![k]!;
          cam.push(Math.max(0, s));
        }
      }
      const want = minMax(cam);
      expect(want.some((v) => v > 0 && v < 1)).toBe(true);
      const map = await layerCam({ layer: 'feat' }).explain(classifier, x, c);
      const got = arr(map);
      for (let i = 0; i < 4; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
      map.dispose();
    }
    x.dispose();
    dispose();
  });

  it('fuses layers: min-max of the element-wise max of tanh(2·M_l / max M_l) over the layers’ up-sampled maps', async () => {
    const model = stridedNet();
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([2, 16, 16, 3], 12) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const fused = await layerCam({ layers: ['c1', 'c2', 'c3'] }).explain(classifier, x, [0, 2]);
    expect(tf.memory().numTensors).toBe(before + 1);
    // Reference: each layer's map by hand (gradients from tf.grad here), scaled and fused.
    const want = tf.tidy(() => {
      let acc: tf.Tensor3D | null = null;
      for (const name of ['c1', 'c2', 'c3']) {
        const access = classifier.at(name);
        const xp = classifier.preprocess(x);
        const a = access.features(xp);
        const mask = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3);
        const g = tf.grad((ai: tf.Tensor) => tf.sum(tf.mul(access.head(ai as tf.Tensor4D, xp), mask)))(a);
        const cam = tf.relu(tf.sum(tf.mul(tf.relu(g), a), -1, true)) as tf.Tensor4D;
        const up = tf.squeeze(tf.image.resizeBilinear(cam, [16, 16], false, true), [3]) as tf.Tensor3D;
        const scaled = tf.tanh(tf.div(tf.mul(up, 2), tf.max(up, [1, 2], true))) as tf.Tensor3D;
        acc = acc == null ? scaled : (tf.maximum(acc, scaled) as tf.Tensor3D);
      }
      return minMaxNormalize(acc as tf.Tensor3D);
    });
    expect(maxAbsDiff(fused, want)).toBeLessThan(1e-5);
    const single = await layerCam({ layer: 'c3' }).explain(classifier, x, [0, 2]);
    expect(maxAbsDiff(fused, single)).toBeGreaterThan(0.05);
    tf.dispose([fused, want, single, x]);
    model.dispose();
  });

  it('rejects layer together with layers, and empty layers', () => {
    expect(() => layerCam({ layer: 'a', layers: ['b'] })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => layerCam({ layers: [] })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
  });

  it('reports progress, aborts, survives a throwing model, and leaks nothing', async () => {
    await commonChecks((o) => layerCam({ layer: 'feat', batchSize: 1, ...o }));
  });
});

describe('layerCam model-randomisation sanity check on the real face model, wasm', () => {
  let sanity: FaceSanity;
  beforeAll(async () => { sanity = await faceSanity(); });
  afterAll(() => sanity?.dispose());

  it('re-initialising fc and dense3 changes the map (ρ logged with the verdict)', async () => {
    const { rhos, trained } = await randomisationRhos(sanity, 'LayerCAM', () => layerCam({ layer: 'dense3' }));
    expect(trained.some((v) => v !== trained[0])).toBe(true);
    for (const r of rhos) expect(r).toBeLessThan(0.9);
  });
});
