// The Node side of the masking model: encoder layers of the digit CNN, training on generated scenes with
// file checkpoints (an interrupted run resumes), and the saved model loading back identically.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMaskingModel } from '@saliency/core';
import { fileHandler, initBackend } from '@saliency/node';
import { loadGeneratedClassifier, type BundledClassifier } from '@saliency/models';
import { generatedMaskingData, pickEncoderLayers, trainMasker } from '@saliency/eval';

describe('trainMasker on the generated digits', () => {
  let model: BundledClassifier;
  let start: number;
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm', quiet: true });
    start = tf.memory().numTensors;
    model = await loadGeneratedClassifier();
  });
  afterAll(() => {
    model.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('picks the last layer of each of the three coarsest resolutions, finest first', () => {
    const names = pickEncoderLayers(model.classifier);
    expect(names).toHaveLength(3);
    expect(names[2]).toBe('cam');
    const x = tf.zeros([1, 96, 96, 3]) as tf.Tensor4D;
    const sides = names.map((n) => tf.tidy(() => model.classifier.at(n).features(x).shape[1]));
    x.dispose();
    expect(sides[0]).toBeGreaterThan(sides[1]);
    expect(sides[1]).toBeGreaterThan(sides[2]);
  });

  it('yields scenes at the model input labelled with every class present', () => {
    const it = generatedMaskingData(model.classifier, 3);
    for (let i = 0; i < 3; i++) {
      const { image, label } = it.next().value!;
      expect(image.shape).toEqual([96, 96, 3]);
      expect(Array.isArray(label) && label.length >= 1 && label.every((c) => c >= 0 && c < 10)).toBe(true);
      image.dispose();
    }
  });

  it('an interrupted run resumes from its file checkpoint; the saved model gives the same masks', async () => {
    const out = mkdtempSync(join(tmpdir(), 'masker-'));
    const ctrl = new AbortController();
    const opts = { steps: 12, batchSize: 2, seed: 3, out, checkpointEvery: 4 };
    await expect(trainMasker(model.classifier, { ...opts, signal: ctrl.signal, onProgress: (p) => { if (p.done >= 10) ctrl.abort(); } }))
      .rejects.toMatchObject({ code: 'ABORTED' });
    expect(existsSync(join(out, 'checkpoint', 'model.json'))).toBe(true);
    const { model: trained, result } = await trainMasker(model.classifier, opts);
    expect(result.resumedFrom).toBe(8);
    expect(result.steps).toBe(12);
    const again = await loadMaskingModel(model.classifier, fileHandler(out));
    const x = tf.randomUniform([2, 96, 96, 3], 0, 255, 'float32', 9) as tf.Tensor4D;
    const [a, b] = [trained.masks(x, [1, 7]), again.masks(x, [1, 7])];
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0])).toBe(0);
    tf.dispose([x, a, b]);
    trained.dispose();
    again.dispose();
  });
});
