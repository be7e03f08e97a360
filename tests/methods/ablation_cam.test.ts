import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ablationCam, fromLayersModel, minMaxNormalize, type Classifier, type Progress } from '@saliency/core';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';
import { faceSanity, type FaceSanity } from './perturbation_sanity';
import { commonChecks, randomisationRhos, stridedNet } from './new_method_fixtures';

beforeAll(useCpu);

describe('ablationCam', () => {
  // 'c2' is followed by a convolution: whole [h, w, k] copies go through the head. 'c3' is followed
  // by global average pooling: the copies are ablated after it (LayerAccess.reduced). The truth is
  // the same in both: one whole ablated copy per head pass.
  for (const [layer, reduced] of [['c2', false], ['c3', true]] as const) {
    it(`${layer}${reduced ? ' (reduced head)' : ''}: equals an unbatched loop written here (one channel zeroed per whole-head pass), for any channel batch`, async () => {
      const model = stridedNet();
      const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
      const access = classifier.at(layer);
      expect(access.reduced != null).toBe(reduced);
      const x = seeded([2, 16, 16, 3], 31) as tf.Tensor4D;
      const targets = [1, 2];
      const want = tf.tidy(() => {
        const maps: tf.Tensor3D[] = [];
        for (let i = 0; i < 2; i++) {
          const xi = classifier.preprocess(tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D);
          const a = access.features(xi);
          const s = access.head(a, xi).dataSync()[targets[i]!]!;
          let cam = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
          for (let k = 0; k < 8; k++) {
            const keep = tf.tensor1d(Array.from({ length: 8 }, (_, j) => (j === k ? 0 : 1)));
            const sk = access.head(tf.mul(a, keep) as tf.Tensor4D, xi).dataSync()[targets[i]!]!;
            cam = tf.add(cam, tf.mul(tf.slice(a, [0, 0, 0, k], [1, -1, -1, 1]), (s - sk) / s)) as tf.Tensor4D;
          }
          const up = tf.image.resizeBilinear(tf.relu(cam) as tf.Tensor4D, [16, 16], false, true);
          maps.push(minMaxNormalize(tf.squeeze(up, [3]) as tf.Tensor3D));
        }
        return tf.concat(maps) as tf.Tensor3D;
      });
      expect(tf.tidy(() => tf.max(want).dataSync()[0])).toBeCloseTo(1, 6);
      for (const channelBatchSize of [1, 3, 32]) {
        const seen: Progress[] = [];
        const before = tf.memory().numTensors;
        const got = await ablationCam({ layer, channelBatchSize, onProgress: (p) => seen.push(p) }).explain(classifier, x, targets);
        expect(tf.memory().numTensors).toBe(before + 1);
        expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
        // Reduced rows are h·w = 64 times smaller than copies: channelBatchSize × 64 of them per pass.
        const perPass = reduced ? channelBatchSize * 64 : channelBatchSize;
        expect(seen.length).toBe(2 * Math.ceil(8 / perPass));
        expect(seen[seen.length - 1]).toEqual({ done: 16, total: 16, phase: 'ablationcam' });
        got.dispose();
      }
      tf.dispose([want, x]);
      model.dispose();
    });
  }

  it('reports progress, aborts, survives a throwing model, and leaks nothing', async () => {
    await commonChecks((o) => ablationCam({ layer: 'feat', channelBatchSize: 2, ...o }), 4);
  });

  it('reduced head: aborts from a progress report, survives a head that throws part-way, and leaks nothing', async () => {
    const model = stridedNet();
    const real = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    let restCalls = 0;
    let failAt: number | null = null;
    // The real classifier, with a rest that fails on its failAt-th call (after tensors were made).
    const classifier: Classifier = {
      ...real,
      at(layer) {
        const access = real.at(layer);
        const reduced = access.reduced!;
        return {
          ...access,
          reduced: {
            reduce: (f) => reduced.reduce(f),
            rest: (r) => {
              restCalls++;
              if (failAt != null && restCalls >= failAt) throw new Error('simulated failure');
              return reduced.rest(r);
            },
          },
        };
      },
    };
    const x = seeded([2, 16, 16, 3], 32) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const ctl = new AbortController();
    await expect(ablationCam({ layer: 'c3', channelBatchSize: 1, signal: ctl.signal, onProgress: () => ctl.abort() }).explain(classifier, x, [0, 1]))
      .rejects.toMatchObject({ code: 'ABORTED' });
    expect(tf.memory().numTensors).toBe(before);
    for (const at of [1, 2, 3]) {
      restCalls = 0;
      failAt = at;
      await expect(ablationCam({ layer: 'c3' }).explain(classifier, x, [0, 1])).rejects.toThrow(/simulated failure/);
      expect(tf.memory().numTensors).toBe(before);
    }
    x.dispose();
    model.dispose();
  });
});

describe('ablationCam model-randomisation sanity check on the real face model, wasm', () => {
  let sanity: FaceSanity;
  beforeAll(async () => { sanity = await faceSanity(); });
  afterAll(() => sanity?.dispose());

  it('re-initialising fc and dense3 changes the map (ρ logged with the verdict)', async () => {
    const { rhos, trained } = await randomisationRhos(sanity, 'Ablation-CAM', () => ablationCam({ layer: 'dense3' }));
    expect(trained.some((v) => v !== trained[0])).toBe(true);
    for (const r of rhos) expect(r).toBeLessThan(0.9);
  });
});
