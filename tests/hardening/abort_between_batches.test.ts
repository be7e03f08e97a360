/**
 * Issue 16, item 2: every long-running call yields to the event loop between batches, so an
 * AbortSignal fired from a TIMER (as a Cancel button or a deadline would) is seen before the
 * last batch: the call rejects ABORTED, leaves no tensors, and did not run to the end.
 * The timer is armed from the first progress report; a loop that never yields runs every
 * batch before the timer can fire, and resolves.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  classModel, createMaskingModel, fromLayersModel, gradCam, groupCam, guidedBackprop, maskingModel, meaningfulPerturbation,
  rise, scoreCam, sess, trainMaskingModel, vanillaGradient, type Classifier, type Progress,
} from '@saliency/core';
import { insertionDeletion, saliencyMetricBoxes } from '@saliency/metrics';
import { seeded, useCpu } from '../setup_cpu';
import { squareClassifier, squareData } from '../methods/masking_fixtures';

beforeAll(useCpu);

/** A small conv net on 16×16×3 images: c1 (stride 2) → c2 → GAP → dense(3). */
function convNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 3] });
  let h = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: tfl.initializers.randomNormal({ seed: 3, stddev: 0.5 }) }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c2', kernelInitializer: tfl.initializers.randomNormal({ seed: 4, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.randomNormal({ seed: 5, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

type Run = (signal: AbortSignal, onProgress: (p: Progress) => void) => Promise<unknown>;

/** Runs `run`, fires the abort from a timer armed at the first progress report, and checks the outcome. */
async function abortsBeforeTheEnd(run: Run): Promise<void> {
  const ctrl = new AbortController();
  let reports = 0;
  let last: Progress = { done: 0, total: 0, phase: '' };
  const onProgress = (p: Progress): void => {
    reports++;
    last = p;
    if (reports === 1) setTimeout(() => ctrl.abort(), 0);
  };
  const before = tf.memory().numTensors;
  await expect(run(ctrl.signal, onProgress)).rejects.toMatchObject({ code: 'ABORTED' });
  expect(reports).toBeGreaterThanOrEqual(1);
  expect(last.done).toBeLessThan(last.total);
  expect(tf.memory().numTensors).toBe(before);
}

describe('a timer-fired abort lands between batches', () => {
  let model: tfl.LayersModel;
  let classifier: Classifier;
  let images: tf.Tensor4D;
  const targets = [0, 1, 2, 0, 1, 2];
  beforeAll(() => {
    model = convNet();
    classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    images = seeded([6, 16, 16, 3], 1) as tf.Tensor4D;
  });

  const methods: [string, (s: AbortSignal, p: (p: Progress) => void) => { explain: (c: Classifier, x: tf.Tensor4D, t: number[]) => Promise<tf.Tensor3D> }][] = [
    ['vanilla gradient', (signal, onProgress) => vanillaGradient({ batchSize: 1, signal, onProgress })],
    ['SmoothGrad', (signal, onProgress) => vanillaGradient({ samples: 4, batchSize: 2, seed: 1, signal, onProgress })],
    ['ten-crop', (signal, onProgress) => vanillaGradient({ tenCrop: true, batchSize: 4, signal, onProgress })],
    ['guided backprop', (signal, onProgress) => guidedBackprop({ batchSize: 1, signal, onProgress })],
    ['Grad-CAM', (signal, onProgress) => gradCam({ layer: 'c2', batchSize: 1, signal, onProgress })],
    ['Group-CAM', (signal, onProgress) => groupCam({ layer: 'c2', groups: 4, batchSize: 2, signal, onProgress })],
    ['Score-CAM', (signal, onProgress) => scoreCam({ layer: 'c2', batchSize: 2, signal, onProgress })],
    ['RISE', (signal, onProgress) => rise({ n: 40, s: 4, seed: 1, batchSize: 5, signal, onProgress })],
    ['meaningful perturbation', (signal, onProgress) => meaningfulPerturbation({ steps: 5, maskSize: 4, seed: 1, batchSize: 2, signal, onProgress })],
  ];
  for (const [name, make] of methods) {
    it(name, async () => {
      await abortsBeforeTheEnd((signal, onProgress) => make(signal, onProgress).explain(classifier, images, targets));
    });
  }

  it('SESS (pre-filter and extraction)', async () => {
    const big = seeded([1, 40, 40, 3], 2) as tf.Tensor4D;
    await abortsBeforeTheEnd((signal, onProgress) => sess(gradCam({ layer: 'c2' }), { scales: 3, batchSize: 1, signal, onProgress }).explain(classifier, big, [0]));
    big.dispose();
  });

  it('class model visualisation', async () => {
    await abortsBeforeTheEnd((signal, onProgress) => classModel(classifier, 1, { steps: 5, signal, onProgress }));
  });

  it('insertion/deletion', async () => {
    const image = seeded([16, 16, 3], 3) as tf.Tensor3D;
    const map = seeded([16, 16], 4) as tf.Tensor2D;
    await abortsBeforeTheEnd((signal, onProgress) => insertionDeletion(classifier, image, map, 0, { step: 16, batchSize: 2, signal, onProgress }));
    tf.dispose([image, map]);
  });

  it('saliency metric (several boxes)', async () => {
    const image = seeded([16, 16, 3], 3) as tf.Tensor3D;
    // 64 boxes, one per batch: the timer (≥ 1 ms in Node) must fall due before the last batch even
    // when each tiny batch takes a fraction of a millisecond (4 boxes were not always enough).
    const boxes = Array.from({ length: 64 }, (_, i) => ({ x: i % 8, y: Math.floor(i / 8), width: 8, height: 8 }));
    await abortsBeforeTheEnd((signal, onProgress) => saliencyMetricBoxes(classifier, image, boxes, 0, { batchSize: 1, signal, onProgress }));
    image.dispose();
  });

  it('masking model: explain and training', async () => {
    const sq = squareClassifier();
    const m = createMaskingModel(sq.classifier, { encoderLayers: ['c1', 'c2', 'c3'], seed: 3 });
    const x = seeded([4, 32, 32, 1], 5) as tf.Tensor4D;
    await abortsBeforeTheEnd((signal, onProgress) => maskingModel(m, { batchSize: 1, signal, onProgress }).explain(sq.classifier, x, [0, 1, 0, 1]));
    await abortsBeforeTheEnd((signal, onProgress) => trainMaskingModel(m, squareData(1), { steps: 4, batchSize: 2, seed: 1, progressEvery: 1, signal, onProgress }));
    x.dispose();
    m.dispose();
    sq.model.dispose();
  });
});
