/**
 * classifier.logits on a real layers model (nsfwjs's MobileNetV2, wasm): the same numbers as
 * tfjs's own executor (model.predict) before its softmax, and the same peak memory — every
 * intermediate activation is freed once the last layer reading it has run, as model.predict
 * does. (Keeping them all until the end of a tidy took 3.3× the memory and made logits slower
 * than model.predict on wasm.) The truth for the pre-softmax scores is computed here: tfjs's
 * executor up to the last Dense's input, then that layer's kernel and bias by hand.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromLayersModel, inputGradient, selectTargets, type Classifier } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { loadNsfwMobileNetV2 } from '@saliency/models';

let model: tfl.LayersModel;
let classifier: Classifier;
let x: tf.Tensor4D;
let xModel: tf.Tensor4D;

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', quiet: true, wasmThreads: false });
  model = await loadNsfwMobileNetV2();
  classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 255], modelRange: [0, 1] }, foldBatchNorm: false }); // the same kernels as model.predict (folding is tests/core/fold_batch_norm)
  x = tf.randomUniform([2, 224, 224, 3], 0, 255, 'float32', 11) as tf.Tensor4D;
  xModel = tf.div(x, 255) as tf.Tensor4D;
});
afterAll(() => {
  tf.dispose([x, xModel]);
  model.dispose();
});

/** Max |a − b| / max(1, max |b|). */
function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1, tf.max(tf.abs(b)).dataSync()[0]));
}

describe('classifier.logits on MobileNetV2 (layers model)', () => {
  it("equal model.predict's pre-softmax scores, and softmax(logits) equals model.predict", () => {
    const last = model.outputs[0].sourceLayer as tfl.layers.Layer;
    expect(last.getClassName()).toBe('Dense');
    const [kernel, bias] = last.getWeights();
    const before = tf.memory().numTensors;
    const logits = classifier.logits(x);
    expect(tf.memory().numTensors).toBe(before + 1);
    const penultimate = tfl.model({ inputs: model.inputs, outputs: last.input as tfl.SymbolicTensor });
    const truth = tf.tidy(() => tf.add(tf.matMul(penultimate.predict(xModel) as tf.Tensor2D, kernel as tf.Tensor2D), bias));
    const predicted = model.predict(xModel) as tf.Tensor2D;
    const probs = tf.softmax(logits);
    expect(logits.shape).toEqual([2, 5]);
    // the scores are not a softmax (they do not sum to 1) and vary across classes
    expect(Math.abs(tf.sum(tf.slice(logits, [0, 0], [1, 5])).dataSync()[0] - 1)).toBeGreaterThan(1e-3);
    expect(relDiff(logits, truth)).toBeLessThanOrEqual(1e-5);
    expect(relDiff(probs, predicted)).toBeLessThanOrEqual(1e-6);
    tf.dispose([logits, truth, predicted, probs]);
  });

  it("peak memory of logits is model.predict's, plus at most the preprocessed input", async () => {
    // tf.profile returns the same (mutated) object each time: read each profile before the next.
    const summary = async (f: () => tf.Tensor) => {
      const p = await tf.profile(f);
      tf.dispose(p.result as tf.Tensor);
      const count = (name: string) => p.kernels.filter((k) => k.name === name).length;
      return { peak: p.peakBytes, convs: count('FusedConv2D'), depthwise: count('DepthwiseConv2dNative'), norms: count('FusedBatchNorm') };
    };
    const ours = await summary(() => classifier.logits(x));
    const theirs = await summary(() => model.predict(xModel) as tf.Tensor);
    const inputBytes = 4 * x.size;
    console.log(`peak bytes: logits ${(ours.peak / 1e6).toFixed(1)} MB, model.predict ${(theirs.peak / 1e6).toFixed(1)} MB`);
    expect(ours.peak).toBeLessThanOrEqual(theirs.peak + inputBytes);
    // the same layers ran: equal numbers of convolutions and batch norms
    expect({ ...ours, peak: 0 }).toEqual({ ...theirs, peak: 0 });
    expect(ours.convs * ours.depthwise * ours.norms).toBeGreaterThan(0);
  });

  it("freeing intermediates early keeps gradients exact: the input gradient equals tf.grad through tfjs's executor", () => {
    const last = model.outputs[0].sourceLayer as tfl.layers.Layer;
    const [kernel, bias] = last.getWeights();
    const penultimate = tfl.model({ inputs: model.inputs, outputs: last.input as tfl.SymbolicTensor });
    const before = tf.memory().numTensors;
    const g = inputGradient((xi: tf.Tensor4D) => selectTargets(classifier.logits(xi), [2, 4]), x);
    const truth = tf.tidy(() => tf.grad((xi: tf.Tensor) => {
      const scores = tf.add(tf.matMul(penultimate.predict(tf.div(xi, 255)) as tf.Tensor2D, kernel as tf.Tensor2D), bias);
      return tf.sum(tf.mul(scores, tf.tensor2d([[0, 0, 1, 0, 0], [0, 0, 0, 0, 1]])));
    })(x));
    expect(tf.tidy(() => tf.max(tf.abs(truth)).dataSync()[0])).toBeGreaterThan(0);
    expect(relDiff(g, truth)).toBeLessThanOrEqual(1e-4);
    tf.dispose([g, truth]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
