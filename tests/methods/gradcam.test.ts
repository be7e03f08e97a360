import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromLayersModel, gradCam, minMaxNormalize } from '@saliency/core';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';

beforeAll(useCpu);

/** conv (full resolution) → GAP → dense: Grad-CAM must equal CAM (Zhou et al.). */
function gapNet(seed: number) {
  const input = tfl.input({ shape: [8, 8, 3] });
  const feat = tfl.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', name: 'feat', kernelInitializer: tfl.initializers.randomNormal({ seed }) }).apply(input) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(feat) as tfl.SymbolicTensor;
  const fc = tfl.layers.dense({ units: 4, name: 'fc', kernelInitializer: tfl.initializers.randomNormal({ seed: seed + 1 }), biasInitializer: 'ones' }).apply(gap) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: fc });
}

/** A net with stride-2 features, so Grad-CAM up-samples. */
function stridedNet() {
  const input = tfl.input({ shape: [16, 16, 3] });
  let h = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: tfl.initializers.randomNormal({ seed: 3, stddev: 0.5 }) }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c2', kernelInitializer: tfl.initializers.randomNormal({ seed: 4, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c3', kernelInitializer: tfl.initializers.randomNormal({ seed: 6, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.randomNormal({ seed: 5, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

describe('gradCam', () => {
  it('equals min-max(ReLU(CAM)) with CAM_c = Σ_k w_ck A_k on a GAP + dense net', async () => {
    const model = gapNet(11);
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([2, 8, 8, 3], 9, -1, 1) as tf.Tensor4D;
    for (const c of [0, 3]) {
      const maps = await gradCam({ layer: 'feat' }).explain(classifier, x, c);
      const want = tf.tidy(() => {
        const [k, bias] = model.getLayer('feat').getWeights();
        const a = tf.relu(tf.add(tf.conv2d(x, k as tf.Tensor4D, 1, 'same'), bias));
        const w = tf.slice(model.getLayer('fc').getWeights()[0], [0, c], [-1, 1]); // [5, 1]
        const cam = tf.reshape(tf.matMul(tf.reshape(a, [-1, 5]), w), [2, 8, 8]) as tf.Tensor3D;
        return minMaxNormalize(tf.relu(cam) as tf.Tensor3D);
      });
      expect(maxAbsDiff(maps, want)).toBeLessThan(1e-5);
      tf.dispose([maps, want]);
    }
    x.dispose();
    model.dispose();
  });

  it("'auto' picks the last 4-D layer", async () => {
    const model = gapNet(12);
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    expect(classifier.layerNames()).toEqual(['feat']);
    expect(classifier.at('auto').name).toBe('feat');
    const x = seeded([1, 8, 8, 3], 1) as tf.Tensor4D;
    const a = await gradCam().explain(classifier, x, 1);
    const b = await gradCam({ layer: 'feat' }).explain(classifier, x, 1);
    expect(maxAbsDiff(a, b)).toBe(0);
    tf.dispose([a, b, x]);
    model.dispose();
  });

  it('weights each image by its own gradients: Grad-CAM of [a, b] equals Grad-CAM of a and of b', async () => {
    const model = stridedNet();
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const a = seeded([1, 16, 16, 3], 21) as tf.Tensor4D;
    const b = seeded([1, 16, 16, 3], 22) as tf.Tensor4D;
    const ab = tf.concat([a, b]) as tf.Tensor4D;
    const tops = Array.from(tf.tidy(() => tf.argMax(classifier.logits(ab), 1)).dataSync());
    const before = tf.memory().numTensors;
    const both = await gradCam({ layer: 'c2' }).explain(classifier, ab, tops);
    const onlyA = await gradCam({ layer: 'c2' }).explain(classifier, a, [tops[0]]);
    const onlyB = await gradCam({ layer: 'c2' }).explain(classifier, b, [tops[1]]);
    expect(both.shape).toEqual([2, 16, 16]);
    expect(tf.tidy(() => maxAbsDiff(tf.slice(both, [0, 0, 0], [1, -1, -1]), onlyA))).toBeLessThan(1e-6);
    expect(tf.tidy(() => maxAbsDiff(tf.slice(both, [1, 0, 0], [1, -1, -1]), onlyB))).toBeLessThan(1e-6);
    // Neither map is degenerate (all zeros), and they differ, so mixing the batch would show.
    expect(tf.tidy(() => tf.max(onlyA).dataSync()[0])).toBeCloseTo(1, 6);
    expect(tf.tidy(() => tf.max(onlyB).dataSync()[0])).toBeCloseTo(1, 6);
    expect(maxAbsDiff(onlyA, onlyB)).toBeGreaterThan(0.05);
    tf.dispose([both, onlyA, onlyB]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, ab]);
    model.dispose();
  });

  it('reports unknown and non-4-D layers with their codes, listing candidates', async () => {
    const model = gapNet(13);
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([1, 8, 8, 3], 2) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    await expect(gradCam({ layer: 'nope' }).explain(classifier, x, 0)).rejects.toMatchObject({ code: 'UNKNOWN_LAYER', message: expect.stringContaining('feat') });
    await expect(gradCam({ layer: 'gap' }).explain(classifier, x, 0)).rejects.toMatchObject({ code: 'LAYER_NOT_4D' });
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });
});
