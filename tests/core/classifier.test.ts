import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromFunction, fromLayersModel, inputGradient, selectTargets, SaliencyError } from '@saliency/core';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';

beforeAll(useCpu);

/** c1 → relu → target(conv) → add(target, relu(c1)) → relu → GAP → dense: a skip around 'target'. */
function skipNet() {
  const input = tfl.input({ shape: [6, 6, 2] });
  const c1 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: tfl.initializers.randomNormal({ seed: 1 }) }).apply(input) as tfl.SymbolicTensor;
  const t = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'target', kernelInitializer: tfl.initializers.randomNormal({ seed: 2 }) }).apply(c1) as tfl.SymbolicTensor;
  const sum = tfl.layers.add({ name: 'skip_add' }).apply([t, c1]) as tfl.SymbolicTensor;
  const r = tfl.layers.activation({ activation: 'tanh', name: 'act' }).apply(sum) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({}).apply(r) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, name: 'fc', kernelInitializer: tfl.initializers.randomNormal({ seed: 3 }) }).apply(gap) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

describe('fromLayersModel', () => {
  it('reads input size, channels and classes from the model; logits equal model.predict', () => {
    const model = skipNet();
    const c = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    expect(c.inputSize).toEqual([6, 6]);
    expect(c.channels).toBe(2);
    expect(c.numClasses).toBe(3);
    expect(c.layerNames()).toEqual(['c1', 'target', 'skip_add', 'act']);
    const x = seeded([2, 6, 6, 2], 4) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const got = c.logits(x);
    const want = model.predict(x) as tf.Tensor;
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
    tf.dispose([got, want]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('at(layer).head(features(x), x) equals the logits (skip connection fed from x)', () => {
    const model = skipNet();
    const c = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([2, 6, 6, 2], 5) as tf.Tensor4D;
    const access = c.at('target');
    const before = tf.memory().numTensors;
    const y = tf.tidy(() => access.head(access.features(x), x));
    const want = c.logits(x);
    expect(maxAbsDiff(y, want)).toBeLessThan(1e-6);
    tf.dispose([y, want]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('the gradient w.r.t. the layer features matches central finite differences', () => {
    const model = skipNet();
    const c = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([1, 6, 6, 2], 6) as tf.Tensor4D;
    const access = c.at('target');
    const a = access.features(x);
    const f = (feat: tf.Tensor4D) => selectTargets(access.head(feat, x), [1]);
    const g = inputGradient(f, a);
    const gv = g.dataSync();
    const av = a.dataSync();
    const eps = 1e-2;
    let worst = 0;
    for (const i of [0, 7, 19, 40, 77, 101, 143]) {
      const plus = Float32Array.from(av); plus[i] += eps;
      const minus = Float32Array.from(av); minus[i] -= eps;
      const fd = tf.tidy(() => {
        const p = f(tf.tensor4d(plus, a.shape)).dataSync()[0];
        const m = f(tf.tensor4d(minus, a.shape)).dataSync()[0];
        return (p - m) / (2 * eps);
      });
      worst = Math.max(worst, Math.abs(fd - gv[i]));
    }
    expect(worst).toBeLessThan(2e-3);
    tf.dispose([a, g, x]);
    model.dispose();
  });

  it("strips a final softmax so logits are pre-softmax scores ('auto')", () => {
    const input = tfl.input({ shape: [2, 2, 1] });
    const flat = tfl.layers.flatten().apply(input) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'fc', kernelInitializer: tfl.initializers.randomNormal({ seed: 9 }), biasInitializer: tfl.initializers.randomNormal({ seed: 10 }) }).apply(flat) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const c = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([2, 2, 2, 1], 8) as tf.Tensor4D;
    const [w, b] = model.getLayer('fc').getWeights();
    const want = tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [2, 4]), w), b));
    const got = c.logits(x);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
    const p = c.probabilities(x);
    const pm = model.predict(x) as tf.Tensor;
    expect(maxAbsDiff(p, pm)).toBeLessThan(1e-6);
    // The model itself is untouched afterwards.
    expect(maxAbsDiff(tf.sum(pm, 1), tf.ones([2]))).toBeLessThan(1e-6);
    tf.dispose([want, got, p, pm, x]);
    model.dispose();
  });

  it('applies the declarative preprocessing: (x − lo)/(hi − lo)·range, minus mean, over std', () => {
    const model = skipNet();
    const c = fromLayersModel(model, { preprocess: { inputRange: [0, 255], modelRange: [0, 1], mean: [0.5, 0.25], std: [2, 4] } });
    const x = tf.tensor4d([0, 255, 51, 102], [1, 1, 2, 2]);
    const p = c.preprocess(x);
    expect(Array.from(p.dataSync())).toEqual([(0 - 0.5) / 2, (1 - 0.25) / 4, (0.2 - 0.5) / 2, (0.4 - 0.25) / 4].map((v) => expect.closeTo(v, 6)) as unknown as number[]);
    tf.dispose([x, p]);
    expect(() => fromLayersModel(model, { preprocess: { std: 0 } })).toThrowError(SaliencyError);
    expect(() => fromLayersModel(model, { preprocess: { mean: [1, 2, 3] } })).toThrowError(/mean/);
    expect(() => fromLayersModel(model, { classNames: ['a'] })).toThrowError(/classNames/);
    model.dispose();
  });
});

describe('fromFunction', () => {
  it('needs layers for CAM methods and reports what is missing', () => {
    const c = fromFunction((x) => tf.reshape(tf.mean(x, [1, 2]), [-1, 3]) as tf.Tensor2D, { inputSize: [4, 4], numClasses: 3 });
    expect(() => c.at('auto')).toThrowError(expect.objectContaining({ code: 'LAYER_NOT_4D' }));
    expect(() => c.at('x')).toThrowError(expect.objectContaining({ code: 'UNKNOWN_LAYER' }));
    const x = tf.ones([1, 4, 4, 3]) as tf.Tensor4D;
    const p = c.probabilities(x);
    expect(maxAbsDiff(p, tf.fill([1, 3], 1 / 3))).toBeLessThan(1e-6);
    tf.dispose([x, p]);
  });
});
