import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromLayersModel, inputGradient } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { loadNsfwMobileNetV2 } from '@saliency/models';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';

/** Bytes held at the peak of `f` above those held before it. */
async function peakBytes(f: () => tf.Tensor): Promise<number> {
  const before = tf.memory().numBytes;
  const info = await tf.profile(f);
  return info.peakBytes - before;
}

describe('forward passes free intermediates after their last consumer (cpu)', () => {
  beforeAll(useCpu);

  it('a skip connection, an identity layer (inference Dropout returns its input) and a fed layer stay correct', () => {
    const input = tfl.input({ shape: [6, 6, 2] });
    const c1 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: tfl.initializers.randomNormal({ seed: 1 }) }).apply(input) as tfl.SymbolicTensor;
    const d = tfl.layers.dropout({ rate: 0.5, name: 'drop' }).apply(c1) as tfl.SymbolicTensor;
    const c2 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c2', kernelInitializer: tfl.initializers.randomNormal({ seed: 2 }) }).apply(d) as tfl.SymbolicTensor;
    const sum = tfl.layers.add({}).apply([c2, c1, d]) as tfl.SymbolicTensor;
    const gap = tfl.layers.globalAveragePooling2d({}).apply(sum) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.randomNormal({ seed: 3 }) }).apply(gap) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const c = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([2, 6, 6, 2], 4) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const got = c.logits(x);
    const want = model.predict(x) as tf.Tensor;
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
    const access = c.at('c2');
    const head = tf.tidy(() => access.head(access.features(x), x));
    expect(maxAbsDiff(head, want)).toBeLessThan(1e-6);
    const grad = inputGradient((v: tf.Tensor4D) => tf.tidy(() => tf.sum(c.logits(v))), x);
    const eps = 1e-2;
    const fd = tf.tidy(() => {
      const e = tf.tile(tf.reshape(tf.oneHot([5], 72), [1, 6, 6, 2]), [2, 1, 1, 1]) as tf.Tensor4D;
      return tf.div(tf.sub(tf.sum(c.logits(tf.add(x, tf.mul(e, eps)))), tf.sum(c.logits(tf.sub(x, tf.mul(e, eps))))), 2 * eps);
    });
    const g5 = tf.tidy(() => tf.add(tf.slice(tf.reshape(grad, [2, 72]), [0, 5], [1, 1]), tf.slice(tf.reshape(grad, [2, 72]), [1, 5], [1, 1])));
    expect(Math.abs(g5.dataSync()[0] - fd.dataSync()[0])).toBeLessThan(1e-2);
    tf.dispose([got, want, head, grad, fd, g5]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });
});

describe('MobileNetV2 (nsfwjs, wasm): peak memory of a forward pass', () => {
  let model: tfl.LayersModel;
  beforeAll(async () => {
    expect((await initBackend({ prefer: 'wasm', quiet: true })).name).toBe('wasm');
    model = await loadNsfwMobileNetV2();
  });
  afterAll(async () => {
    model.dispose();
    await tf.setBackend('cpu');
  });

  it('classifier.logits and features peak at ≤ 1.5× model.predict per image', async () => {
    const c = fromLayersModel(model, { preprocess: { inputRange: [0, 255], modelRange: [0, 1] } });
    const x = tf.randomUniform([1, 224, 224, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
    const xp = tf.div(x, 255);
    const predict = await peakBytes(() => model.predict(xp) as tf.Tensor);
    const logits = await peakBytes(() => c.logits(x));
    const features = await peakBytes(() => c.at('out_relu').features(c.preprocess(x)));
    console.log(`peak MiB above start: predict ${(predict / 2 ** 20).toFixed(1)}, logits ${(logits / 2 ** 20).toFixed(1)}, features ${(features / 2 ** 20).toFixed(1)}`);
    expect(logits).toBeLessThanOrEqual(1.5 * predict);
    expect(features).toBeLessThanOrEqual(1.5 * predict);
    tf.dispose([x, xp]);
  });
});
