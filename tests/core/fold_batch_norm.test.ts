import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromLayersModel, inputGradient, type Classifier } from '@saliency/core';
import { initBackend, readImage } from '@saliency/node';
import { faceApiSampleImages, loadNsfwMobileNetV2, NSFW_MOBILENET_V2_LAST_CONV_LAYER } from '@saliency/models';
import { batchNormFolds } from '../../packages/core/src/classifier/fold_batch_norm';
import { seeded, useCpu } from '../setup_cpu';

/** max |a − b| / max |b|. */
function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
}

/** Sets every batch-norm's γ, β, moving mean and moving variance to seeded non-trivial values. */
function randomiseBatchNorms(model: tfl.LayersModel, seed: number): void {
  let s = seed;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const [gamma, beta, mean, variance] = layer.getWeights().map((w) => w.shape);
    const values = [
      seeded(gamma as number[], s++, 0.5, 2),
      seeded(beta as number[], s++, -0.5, 0.5),
      seeded(mean as number[], s++, -0.3, 0.3),
      seeded(variance as number[], s++, 0.2, 3),
    ];
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/**
 * conv(bias) → BN → ReLU → zero padding (asymmetric) → depthwise(×2, 'valid', stride 2) → BN → ReLU6 ('cam')
 * → conv(no bias) → BN → add → GAP → dense; plus a conv whose output feeds a BN AND the add, which must not
 * be folded, and a ReLU capped at 3 after that BN, which is not a fusable activation.
 */
function convBnNet(): tfl.LayersModel {
  const init = (seed: number) => tfl.initializers.randomNormal({ seed, stddev: 0.3 });
  const input = tfl.input({ shape: [10, 10, 3] });
  let h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'c1', kernelInitializer: init(1), biasInitializer: init(2) }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.batchNormalization({ name: 'bn1' }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.reLU({ name: 'r1' }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.zeroPadding2d({ padding: [[0, 1], [2, 0]], name: 'zp' }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'valid', useBias: false, name: 'dw', depthwiseInitializer: init(3) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.batchNormalization({ epsilon: 1e-2, name: 'bn2' }).apply(h) as tfl.SymbolicTensor;
  const cam = tfl.layers.reLU({ maxValue: 6, name: 'cam' }).apply(h) as tfl.SymbolicTensor;
  let p = tfl.layers.conv2d({ filters: 16, kernelSize: 1, useBias: false, name: 'proj', kernelInitializer: init(4) }).apply(cam) as tfl.SymbolicTensor;
  p = tfl.layers.batchNormalization({ name: 'bn3' }).apply(p) as tfl.SymbolicTensor;
  const shared = tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', name: 'shared', kernelInitializer: init(5) }).apply(cam) as tfl.SymbolicTensor;
  const sharedBn = tfl.layers.batchNormalization({ name: 'bn_shared' }).apply(shared) as tfl.SymbolicTensor;
  const capped = tfl.layers.reLU({ maxValue: 3, name: 'cap' }).apply(sharedBn) as tfl.SymbolicTensor;
  const sum = tfl.layers.add({ name: 'add' }).apply([p, capped, shared]) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({}).apply(sum) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 4, name: 'fc', kernelInitializer: init(6) }).apply(gap) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  randomiseBatchNorms(model, 10);
  return model;
}

/** Logits, input gradient of the target logit, and features at `layer`, for one classifier. */
function outputsOf(c: Classifier, x: tf.Tensor4D, target: number, layer: string): { logits: tf.Tensor; grad: tf.Tensor; features: tf.Tensor } {
  const logits = c.logits(x);
  const grad = inputGradient((v: tf.Tensor4D) => tf.tidy(() => tf.sum(tf.slice(c.logits(v), [0, target], [-1, 1]))), x);
  const features = tf.tidy(() => c.at(layer).features(c.preprocess(x)));
  return { logits, grad, features };
}

describe('batch-norm folding on a layers model built here (cpu)', () => {
  beforeAll(useCpu);

  it('folds exactly the conv → BN pairs whose conv output feeds only the BN, with the padding before and the ReLU after', () => {
    const model = convBnNet();
    const owned = batchNormFolds(model);
    // Per layer: where each of its folds reads from (and whether it is for untaped passes only), preferred first.
    const shape = [...owned.folds].map(([layer, list]) => [layer.name, list.map((f) => `${f.input.sourceLayer.name}${f.untapedOnly ? ' untaped' : ''}`)]);
    const input = model.inputs[0]?.sourceLayer.name;
    expect(Object.fromEntries(shape)).toEqual({
      bn1: [input],
      r1: [`${input} untaped`],
      bn2: ['r1 untaped', 'zp'],
      cam: ['r1 untaped'],
      bn3: ['cam'],
    });
    owned.dispose();
    model.dispose();
  });

  it('the folds are used: no padding or ReLU kernel in a forward pass, the model layers under a tape', async () => {
    const model = convBnNet();
    const folded = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const plain = fromLayersModel(model, { preprocess: { inputRange: [0, 1] }, foldBatchNorm: false });
    const x = seeded([2, 10, 10, 3], 9, -1, 1) as tf.Tensor4D;
    const kernelsOf = async (f: () => tf.Tensor): Promise<string[]> => {
      const info = await tf.profile(f);
      (info.result as tf.Tensor).dispose();
      return info.kernels.map((k) => k.name);
    };
    const count = (names: string[], name: string): number => names.filter((n) => n === name).length;
    const fast = await kernelsOf(() => folded.logits(x));
    const slow = await kernelsOf(() => plain.logits(x));
    expect([count(slow, 'PadV2'), count(slow, 'Relu'), count(slow, 'FusedBatchNorm')]).toEqual([1, 3, 4]);
    // Folded: the padding and the ReLU / ReLU6 after bn1 and bn2 are inside the fused convolutions;
    // only 'cap' (ReLU, then its clip at 3) is left.
    expect([count(fast, 'PadV2'), count(fast, 'Relu'), count(fast, 'ClipByValue'), count(fast, 'FusedBatchNorm')]).toEqual([0, 1, 1, 1]);
    // Under a tape the forward keeps the padding and activation layers (and folds the batch-norms only).
    const taped = await kernelsOf(() => inputGradient((v: tf.Tensor4D) => tf.sum(folded.logits(v)), x));
    expect([count(taped, 'PadV2') >= 1, count(taped, 'FusedBatchNorm')]).toEqual([true, 1]);
    x.dispose();
    model.dispose();
  });

  it('logits, input gradients and features after a BN equal the unfolded model and model.predict', () => {
    const before = tf.memory().numTensors;
    const model = convBnNet();
    const folded = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const plain = fromLayersModel(model, { preprocess: { inputRange: [0, 1] }, foldBatchNorm: false });
    const x = seeded([3, 10, 10, 3], 7, -1, 1) as tf.Tensor4D;
    const during = tf.memory().numTensors;
    const a = outputsOf(folded, x, 2, 'cam');
    const b = outputsOf(plain, x, 2, 'cam');
    const predicted = model.predict(x) as tf.Tensor;
    expect(relDiff(a.logits, b.logits)).toBeLessThan(1e-5);
    expect(relDiff(a.logits, predicted)).toBeLessThan(1e-5);
    expect(relDiff(a.grad, b.grad)).toBeLessThan(1e-5);
    expect(relDiff(a.features, b.features)).toBeLessThan(1e-5);
    // at(BN) and at(conv before a folded BN) both give that layer's own output; head() continues from it.
    for (const layer of ['bn2', 'dw', 'zp', 'r1', 'cam']) {
      const fa = tf.tidy(() => folded.at(layer).features(x));
      const fb = tf.tidy(() => plain.at(layer).features(x));
      expect(relDiff(fa, fb)).toBeLessThan(1e-5);
      const head = tf.tidy(() => folded.at(layer).head(fa, x));
      expect(relDiff(head, b.logits)).toBeLessThan(1e-5);
      tf.dispose([fa, fb, head]);
    }
    tf.dispose([a.logits, a.grad, a.features, b.logits, b.grad, b.features, predicted]);
    expect(tf.memory().numTensors).toBe(during);
    x.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('follows weights assigned after wrapping', () => {
    const model = convBnNet();
    const folded = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([2, 10, 10, 3], 8, -1, 1) as tf.Tensor4D;
    const first = folded.logits(x);
    randomiseBatchNorms(model, 50);
    const during = tf.memory().numTensors;
    const second = folded.logits(x);
    const want = model.predict(x) as tf.Tensor;
    expect(relDiff(second, want)).toBeLessThan(1e-5);
    expect(relDiff(first, want)).toBeGreaterThan(1e-3);
    tf.dispose([second, want]);
    expect(tf.memory().numTensors).toBe(during);
    tf.dispose([first, x]);
    model.dispose();
  });
});

describe('batch-norm folding on MobileNetV2 (nsfwjs, wasm)', () => {
  const opts = { preprocess: { inputRange: [0, 255] as [number, number], modelRange: [0, 1] as [number, number] } };
  let model: tfl.LayersModel;
  let x: tf.Tensor4D; // [sample6, sample1] of face-api's demo photographs
  let start: number;

  beforeAll(async () => {
    expect((await initBackend({ prefer: 'wasm', quiet: true })).name).toBe('wasm');
    start = tf.memory().numTensors;
    model = await loadNsfwMobileNetV2();
    const paths = faceApiSampleImages();
    const images = await Promise.all([paths[5], paths[0]].map((p) => readImage(p as string)));
    x = tf.tidy(() =>
      tf.stack(images.map((img) => tf.image.resizeBilinear(tf.tensor3d(Float32Array.from(img.data), [img.height, img.width, 3]), [224, 224]))),
    ) as tf.Tensor4D;
  });

  afterAll(async () => {
    tf.dispose(x);
    model.dispose();
    expect(tf.memory().numTensors).toBe(start);
    await tf.setBackend('cpu');
  });

  it('folds all 52 batch-norms, 35 ReLU6 and 5 paddings; logits, input gradients and out_relu features equal the unfolded model', async () => {
    const owned = batchNormFolds(model);
    const byKind = new Map<string, number>();
    for (const [layer, list] of owned.folds) byKind.set(`${layer.getClassName()} ${list.length}`, (byKind.get(`${layer.getClassName()} ${list.length}`) ?? 0) + 1);
    // "BatchNormalization 2": a padded fold (untaped) before the plain one.
    expect(Object.fromEntries(byKind)).toEqual({ 'BatchNormalization 1': 47, 'BatchNormalization 2': 5, 'ReLU 1': 35 });
    owned.dispose();
    const folded = fromLayersModel(model, opts);
    const plain = fromLayersModel(model, { ...opts, foldBatchNorm: false });
    const during = tf.memory().numTensors;
    // The forward pass runs convolutions (and the head) only: no padding, ReLU, clip or batch-norm kernel is left.
    const info = await tf.profile(() => folded.logits(x));
    (info.result as tf.Tensor).dispose();
    const kernels = new Set(info.kernels.map((k) => k.name));
    for (const name of ['PadV2', 'Relu', 'Relu6', 'ClipByValue', 'FusedBatchNorm']) expect(kernels.has(name), name).toBe(false);
    expect(kernels.has('FusedDepthwiseConv2D')).toBe(true);
    const a = outputsOf(folded, x, 2, NSFW_MOBILENET_V2_LAST_CONV_LAYER);
    const b = outputsOf(plain, x, 2, NSFW_MOBILENET_V2_LAST_CONV_LAYER);
    const perImage = (t: tf.Tensor, i: number): tf.Tensor => tf.slice(t, [i], [1]);
    const grad = [0, 1].map((i) => tf.tidy(() => relDiff(perImage(a.grad, i), perImage(b.grad, i))));
    const rel = { logits: relDiff(a.logits, b.logits), features: relDiff(a.features, b.features), grad };
    console.log('MobileNetV2 folded vs unfolded, max relative difference:', rel);
    expect(rel.logits).toBeLessThan(1e-5);
    expect(rel.features).toBeLessThan(1e-5);
    // sample6: every ReLU6 gate is the same in both models, so the input gradients agree to rounding.
    expect(grad[0]).toBeLessThan(1e-5);
    // sample1: 2 of 6.7 M ReLU6 inputs lie within rounding of 0 or 6, so their gates differ between ANY two
    // evaluations that round differently — the unfolded model's own gradient on the cpu backend differs from
    // wasm's just as much. The folded gradient stays within that noise floor.
    const wasmGrad = perImage(b.grad, 1);
    const x1 = tf.slice(x, [1], [1]);
    const pixels = await x1.data();
    await tf.setBackend('cpu');
    const onCpu = tf.tidy(() =>
      inputGradient((v: tf.Tensor4D) => tf.tidy(() => tf.sum(tf.slice(plain.logits(v), [0, 2], [-1, 1]))), tf.tensor4d(pixels, [1, 224, 224, 3])),
    );
    const cpuGradValues = await onCpu.data();
    onCpu.dispose();
    await tf.setBackend('wasm');
    const cpuGrad = tf.tensor(cpuGradValues, wasmGrad.shape);
    const floor = relDiff(cpuGrad, wasmGrad);
    console.log(`sample1: folded vs unfolded ${grad[1]}, unfolded cpu vs wasm ${floor}`);
    expect(grad[1]).toBeLessThanOrEqual(1.5 * floor);
    // Independent of both wrappers: the log softmax of the logits is the log of model.predict.
    const ls = tf.tidy(() => tf.logSoftmax(a.logits));
    const predicted = tf.tidy(() => tf.log(model.predict(tf.div(x, 255)) as tf.Tensor));
    expect(relDiff(ls, predicted)).toBeLessThan(1e-4);
    tf.dispose([a.logits, a.grad, a.features, b.logits, b.grad, b.features, predicted, ls, wasmGrad, x1, cpuGrad]);
    expect(tf.memory().numTensors).toBe(during);
  });
});
