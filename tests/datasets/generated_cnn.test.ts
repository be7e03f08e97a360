import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { gradCam } from '@saliency/methods';
import { generateLocalisationSet, type GeneratedSample } from '../../packages/eval/src/datasets/index';
import {
  GENERATED_CNN_CAM_LAYER, loadGeneratedClassifier, loadGeneratedCnnModel,
} from '../../packages/models/src/generated_cnn';
import type { BundledClassifier } from '../../packages/models/src/classifiers';
import { initBackend } from '../../packages/node/src/backend';
import { maxAbsDiff } from '../setup_cpu';

// Measured with the committed weights (scripts/train-generated-cnn.mjs, seed 1, 450 steps) on the
// 100 test-split images of seed 4242 below — MNIST images the CNN never saw, in layouts of a seed used
// nowhere else: 65/100 top-1 = target; 42/49 on the images without distractors. A change of weights,
// generator or preprocessing that costs more than the margin fails here.
const ACCURACY_MEASURED = 0.65;
const CLEAN_ACCURACY_MEASURED = 42 / 49;
const MARGIN = 0.06;

/** `[N, 96, 96, 3]` in 0–255: the samples resized as the evaluation does. */
function batch96(samples: GeneratedSample[]): tf.Tensor4D {
  return tf.tidy(() => {
    const { height: h, width: w } = samples[0];
    const data = new Float32Array(samples.length * h * w * 3);
    samples.forEach((s, i) => data.set(s.pixels, i * h * w * 3));
    return tf.image.resizeBilinear(tf.tensor4d(data, [samples.length, h, w, 3]), [96, 96]);
  });
}

let bundled: BundledClassifier;
let model: tfl.LayersModel;
let tensorsAtStart: number;

// The default Node backend (wasm): 100 forward passes of a 96² CNN take a minute on the cpu backend.
// Every number below is checked against an independent computation on the same backend.
beforeAll(async () => {
  await initBackend({ prefer: 'wasm', quiet: true });
  tensorsAtStart = tf.memory().numTensors;
  bundled = await loadGeneratedClassifier();
  model = await loadGeneratedCnnModel();
});

afterAll(() => {
  bundled.dispose();
  model.dispose();
  expect(tf.memory().numTensors).toBe(tensorsAtStart);
});

describe('the bundled generated-digit CNN', () => {
  it('loads as a 96×96 RGB classifier with classes 0…9 and a 12×12 CAM layer; its logits are the raw model on pixels ÷ 255', () => {
    const { classifier, camLayer } = bundled;
    expect(classifier.inputSize).toEqual([96, 96]);
    expect(classifier.channels).toBe(3);
    expect(classifier.numClasses).toBe(10);
    expect(classifier.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(classifier.inputRange).toEqual([0, 255]);
    expect(camLayer).toBe(GENERATED_CNN_CAM_LAYER);
    expect(classifier.layerNames()).toContain('cam');
    expect(model.getLayer('cam').outputShape).toEqual([null, 12, 12, 128]);
    const samples = generateLocalisationSet({ seed: 4243, count: 3, split: 'test' });
    const before = tf.memory().numTensors;
    const x = batch96(samples);
    const ours = classifier.logits(x);
    const raw = tf.tidy(() => model.predict(tf.div(x, 255)) as tf.Tensor2D);
    expect(maxAbsDiff(ours, raw)).toBeLessThan(1e-4);
    // Logits, not probabilities: rows do not sum to 1 and take negative values.
    expect(tf.tidy(() => tf.min(ours).dataSync()[0])).toBeLessThan(0);
    tf.dispose([x, ours, raw]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it(`classifies 100 fresh held-out images (224² → 96²) with top-1 accuracy ≥ measured − ${MARGIN}`, () => {
    const samples = generateLocalisationSet({ seed: 4242, count: 100, split: 'test' });
    const before = tf.memory().numTensors;
    const tops: number[] = [];
    for (let i = 0; i < samples.length; i += 25) {
      const x = batch96(samples.slice(i, i + 25));
      const top = tf.tidy(() => tf.argMax(bundled.classifier.logits(x), 1));
      tops.push(...top.dataSync());
      tf.dispose([x, top]);
    }
    expect(tf.memory().numTensors).toBe(before);
    const accuracy = samples.filter((s, i) => tops[i] === s.label).length / samples.length;
    const clean = samples.filter((s) => s.distractors.length === 0);
    const cleanAccuracy = clean.filter((s) => tops[samples.indexOf(s)] === s.label).length / clean.length;
    console.log(`generated CNN top-1 on 100 test images: ${accuracy} (without distractors ${cleanAccuracy}, n=${clean.length})`);
    expect(accuracy).toBeGreaterThanOrEqual(ACCURACY_MEASURED - MARGIN);
    expect(cleanAccuracy).toBeGreaterThanOrEqual(CLEAN_ACCURACY_MEASURED - MARGIN);
    expect(clean.length).toBe(49);
  });

  it('Grad-CAM at the CAM layer equals CAM from the GAP + dense weights (Zhou et al.), image by image', async () => {
    const samples = generateLocalisationSet({ seed: 4244, count: 3, split: 'test' });
    const x = batch96(samples);
    onTestFinished(() => x.dispose());
    const targets = samples.map((s) => s.label);
    const before = tf.memory().numTensors;
    const maps = await gradCam({ layer: 'cam', batchSize: 2 }).explain(bundled.classifier, x, targets);
    expect(tf.memory().numTensors).toBe(before + 1);
    onTestFinished(() => maps.dispose());
    // CAM_c = Σ_k w_kc A_k with A the 'cam' activations of a sub-model and w the dense kernel; then
    // the same ReLU, bilinear up-sampling (half-pixel centres) and per-image min-max as Grad-CAM.
    const want = tf.tidy(() => {
      const features = tfl.model({ inputs: model.inputs, outputs: model.getLayer('cam').output as tfl.SymbolicTensor });
      const a = features.predict(tf.div(x, 255)) as tf.Tensor4D; // [3, 12, 12, 128]
      const [kernel] = model.getLayer('logits').getWeights(); // [128, 10]
      const w = tf.transpose(tf.gather(tf.transpose(kernel), targets)); // [128, 3]: column i = class of image i
      const cams = tf.stack(targets.map((_, i) => tf.squeeze(tf.sum(tf.mul(tf.slice(a, [i, 0, 0, 0], [1, -1, -1, -1]), tf.reshape(tf.slice(w, [0, i], [-1, 1]), [1, 1, 1, 128])), -1, true), [0])));
      const up = tf.squeeze(tf.image.resizeBilinear(tf.relu(cams) as tf.Tensor4D, [96, 96], false, true), [3]) as tf.Tensor3D;
      const lo = tf.min(up, [1, 2], true), hi = tf.max(up, [1, 2], true);
      return tf.div(tf.sub(up, lo), tf.sub(hi, lo));
    });
    onTestFinished(() => want.dispose());
    expect(maxAbsDiff(maps, want)).toBeLessThan(1e-4);
    // The maps are not flat, and they differ between images.
    expect(tf.tidy(() => tf.min(tf.max(maps, [1, 2])).dataSync()[0])).toBeCloseTo(1, 5);
    expect(tf.tidy(() => maxAbsDiff(tf.slice(maps, [0, 0, 0], [1, -1, -1]), tf.slice(maps, [1, 0, 0], [1, -1, -1])))).toBeGreaterThan(0.2);
  });

  it('has input gradients through the batch normalisations: ∇logit · d equals the central difference along d', () => {
    const [sample] = generateLocalisationSet({ seed: 4246, count: 1, split: 'test' });
    const x = batch96([sample]);
    onTestFinished(() => x.dispose());
    const before = tf.memory().numTensors;
    const { directional, central } = tf.tidy(() => {
      const oneHot = tf.oneHot([sample.label], 10);
      const f = (xx: tf.Tensor) => tf.sum(tf.mul(bundled.classifier.logits(xx as tf.Tensor4D), oneHot));
      const g = tf.grad(f)(x);
      const d = tf.div(g, tf.max(tf.abs(g))); // moves every pixel value by at most eps
      const eps = 0.1; // pixels (0–255)
      return {
        directional: tf.sum(tf.mul(g, d)).dataSync()[0],
        central: (f(tf.add(x, tf.mul(d, eps))).dataSync()[0] - f(tf.sub(x, tf.mul(d, eps))).dataSync()[0]) / (2 * eps),
      };
    });
    expect(Math.abs(directional)).toBeGreaterThan(1e-3);
    expect(Math.abs(directional - central)).toBeLessThan(0.02 * Math.abs(directional));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Grad-CAM peaks on the target digit: the map maximum falls in a target box for most clean images', async () => {
    const samples = generateLocalisationSet({ seed: 4245, count: 12, split: 'test', distractorWeights: [1] });
    const x = batch96(samples);
    const maps = await gradCam({ layer: 'cam' }).explain(bundled.classifier, x, samples.map((s) => s.label));
    const arg = tf.tidy(() => tf.argMax(tf.reshape(maps, [samples.length, -1]), 1));
    const flat = Array.from(arg.dataSync());
    tf.dispose([maps, x, arg]);
    let hits = 0;
    samples.forEach((s, i) => {
      // map pixel (96²) → image pixel (224²), 15 px tolerance as in design.md's pointing game
      const px = ((flat[i] % 96) + 0.5) * (s.width / 96), py = (Math.floor(flat[i] / 96) + 0.5) * (s.height / 96);
      if (s.boxes.some(({ box: b }) => px >= b.x - 15 && px <= b.x + b.width + 15 && py >= b.y - 15 && py <= b.y + b.height + 15)) hits++;
    });
    expect(hits / samples.length).toBeGreaterThanOrEqual(0.75);
  });
});
