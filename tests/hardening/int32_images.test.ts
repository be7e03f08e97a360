/**
 * Issue 16, item 3: int32 images (what tf.browser.fromPixels and tf.node.decodeImage return)
 * are accepted by every method AT the model's input size (where no resize casts them), and
 * give exactly the map of the same pixels as float32.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createMaskingModel, explain, fromLayersModel, gradCam, groupCam, guidedBackprop, maskingModel, meaningfulPerturbation,
  rise, scoreCam, sess, vanillaGradient, type Classifier, type SaliencyMethod,
} from '@saliency/core';
import { insertionDeletion } from '@saliency/metrics';
import { rng, useCpu } from '../setup_cpu';

beforeAll(useCpu);

function convNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 3] });
  let h = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: tfl.initializers.randomNormal({ seed: 3, stddev: 0.5 }) }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c2', kernelInitializer: tfl.initializers.randomNormal({ seed: 4, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.randomNormal({ seed: 5, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

/** 0–255 integer pixels, as a decoder returns them. */
function pixels(n: number, seed: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n * 16 * 16 * 3 }, () => Math.floor(256 * r()));
}

describe('int32 images at the model input size', () => {
  let model: tfl.LayersModel;
  let classifier: Classifier;
  beforeAll(() => {
    model = convNet();
    // The model takes 0–255 itself: preprocessing is the identity, so nothing on the way casts the pixels.
    classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 255] } });
  });

  const methods: [string, () => SaliencyMethod][] = [
    ['vanilla gradient', () => vanillaGradient()],
    ['SmoothGrad', () => vanillaGradient({ samples: 3, seed: 2 })],
    ['ten-crop', () => vanillaGradient({ tenCrop: true })],
    ['guided backprop', () => guidedBackprop()],
    ['Grad-CAM', () => gradCam({ layer: 'c2' })],
    ['Group-CAM', () => groupCam({ layer: 'c2', groups: 4 })],
    ['Score-CAM', () => scoreCam({ layer: 'c2' })],
    ['RISE', () => rise({ n: 20, s: 4, seed: 1 })],
    ['meaningful perturbation', () => meaningfulPerturbation({ steps: 2, maskSize: 4, seed: 1 })],
    ['SESS', () => sess(gradCam({ layer: 'c2' }), { scales: 2 })],
  ];
  for (const [name, make] of methods) {
    it(`${name}: same map as float32, through the method and through explain()`, async () => {
      const data = pixels(2, 7);
      const xi = tf.tensor4d(data, [2, 16, 16, 3], 'int32');
      const xf = tf.cast(xi, 'float32') as tf.Tensor4D;
      const before = tf.memory().numTensors;
      const want = await make().explain(classifier, xf, [0, 2]);
      const got = await make().explain(classifier, xi, [0, 2]);
      expect(Array.from(await got.data())).toEqual(Array.from(await want.data()));
      const one = tf.tidy(() => tf.squeeze(tf.slice(xi, [0, 0, 0, 0], [1, -1, -1, -1]), [0])) as tf.Tensor3D;
      const viaExplain = await explain(make(), classifier, one, { target: 0 });
      const wantOne = tf.tidy(() => tf.squeeze(tf.slice(want, [0, 0, 0], [1, -1, -1]), [0]));
      expect(Array.from(await viaExplain.data())).toEqual(Array.from(await wantOne.data()));
      tf.dispose([want, got, one, viaExplain, wantOne]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([xi, xf]);
    });
  }

  it('masking model', async () => {
    const m = createMaskingModel(classifier, { encoderLayers: ['c1', 'c2'], seed: 1 });
    const xi = tf.tensor4d(pixels(2, 8), [2, 16, 16, 3], 'int32');
    const xf = tf.cast(xi, 'float32') as tf.Tensor4D;
    const want = await maskingModel(m).explain(classifier, xf, [0, 1]);
    const got = await maskingModel(m).explain(classifier, xi, [0, 1]);
    expect(Array.from(await got.data())).toEqual(Array.from(await want.data()));
    tf.dispose([xi, xf, want, got]);
    m.dispose();
  });

  it('insertion/deletion', async () => {
    const xi = tf.tensor3d(pixels(1, 9), [16, 16, 3], 'int32');
    const xf = tf.cast(xi, 'float32') as tf.Tensor3D;
    const map = tf.tensor2d(Float32Array.from(pixels(1, 10).slice(0, 256), (v) => v / 255), [16, 16]);
    const want = await insertionDeletion(classifier, xf, map, 1, { step: 16 });
    const got = await insertionDeletion(classifier, xi, map, 1, { step: 16 });
    expect(got.insertion).toBe(want.insertion);
    expect(got.deletion).toBe(want.deletion);
    tf.dispose([xi, xf, map]);
  });
});
