/**
 * Issue 16, item 4: finite but absurd pixel values (3e38) used to give all-NaN maps. Every
 * method now rejects values far outside the classifier's declared input range with
 * INPUT_OUT_OF_RANGE (leaving no tensors), and values that are merely out of range (an image
 * in 0–255 given to a [0, 1] classifier) still give finite maps.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createMaskingModel, explain, fromLayersModel, gradCam, groupCam, guidedBackprop, INPUT_RANGE_TOLERANCE, maskingModel,
  meaningfulPerturbation, rise, scoreCam, sess, vanillaGradient, type Classifier, type SaliencyMethod,
} from '@saliency/core';
import { seeded, useCpu } from '../setup_cpu';

beforeAll(useCpu);

function convNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 3] });
  let h = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: tfl.initializers.randomNormal({ seed: 3, stddev: 0.5 }) }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c2', kernelInitializer: tfl.initializers.randomNormal({ seed: 4, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.randomNormal({ seed: 5, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

describe('absurd pixel values', () => {
  let model: tfl.LayersModel;
  let classifier: Classifier;
  beforeAll(() => {
    model = convNet();
    classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
  });

  const methods: [string, () => SaliencyMethod][] = [
    ['vanilla gradient', () => vanillaGradient()],
    ['SmoothGrad', () => vanillaGradient({ samples: 3, seed: 2 })],
    ['guided backprop', () => guidedBackprop()],
    ['Grad-CAM', () => gradCam({ layer: 'c2' })],
    ['Group-CAM', () => groupCam({ layer: 'c2', groups: 4 })],
    ['Score-CAM', () => scoreCam({ layer: 'c2' })],
    ['RISE', () => rise({ n: 20, s: 4, seed: 1 })],
    ['meaningful perturbation', () => meaningfulPerturbation({ steps: 2, maskSize: 4, seed: 1 })],
    ['SESS', () => sess(gradCam({ layer: 'c2' }), { scales: 2 })],
  ];
  for (const [name, make] of methods) {
    it(`${name}: 3e38 is INPUT_OUT_OF_RANGE; 0–255 pixels for a [0, 1] model give a finite map`, async () => {
      const huge = tf.fill([1, 16, 16, 3], 3e38) as tf.Tensor4D;
      const before = tf.memory().numTensors;
      await expect(make().explain(classifier, huge, [0])).rejects.toMatchObject({ code: 'INPUT_OUT_OF_RANGE' });
      await expect(explain(make(), classifier, huge, { target: 0 })).rejects.toMatchObject({ code: 'INPUT_OUT_OF_RANGE' });
      expect(tf.memory().numTensors).toBe(before);
      const wide = tf.mul(seeded([1, 16, 16, 3], 3), 255) as tf.Tensor4D;
      const map = await make().explain(classifier, wide, [0]);
      expect((await map.data()).every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
      tf.dispose([huge, wide, map]);
    });
  }

  it('the limit is the declared range widened by INPUT_RANGE_TOLERANCE spans on each side', async () => {
    expect(INPUT_RANGE_TOLERANCE).toBe(1000);
    const edge = tf.fill([1, 16, 16, 3], 1 + 1000) as tf.Tensor4D; // hi + 1000·span: accepted
    const past = tf.fill([1, 16, 16, 3], 1 + 1000.5) as tf.Tensor4D;
    const low = tf.fill([1, 16, 16, 3], -1000.5) as tf.Tensor4D;
    const ok = await gradCam({ layer: 'c2' }).explain(classifier, edge, [0]);
    expect((await ok.data()).every(Number.isFinite)).toBe(true);
    await expect(gradCam({ layer: 'c2' }).explain(classifier, past, [0])).rejects.toMatchObject({ code: 'INPUT_OUT_OF_RANGE' });
    await expect(gradCam({ layer: 'c2' }).explain(classifier, low, [0])).rejects.toMatchObject({ code: 'INPUT_OUT_OF_RANGE' });
    tf.dispose([edge, past, low, ok]);
  });

  it('masking model', async () => {
    const m = createMaskingModel(classifier, { encoderLayers: ['c1', 'c2'], seed: 1 });
    const huge = tf.fill([1, 16, 16, 3], 3e38) as tf.Tensor4D;
    await expect(maskingModel(m).explain(classifier, huge, [0])).rejects.toMatchObject({ code: 'INPUT_OUT_OF_RANGE' });
    huge.dispose();
    m.dispose();
  });
});
