// The masking model's fast inference path on the bundled digit CNN and its committed masker, on real
// generated scenes: the top class read from the encoder's own forward pass equals resolveTargets'
// (the classifier's argmax), the cached batch-norm folding gives the unfused decoder's masks and
// follows weight changes, and nothing leaks — also when aborted or when the classifier throws.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMaskingModel, maskingModel, resolveTargets, type Classifier, type MaskingModel } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { loadGeneratedClassifier, type BundledClassifier } from '@saliency/models';
import { DIGIT_MASKER_TRAINING, generateLocalisationSet, loadDigitMasker, pickEncoderLayers, sampleToTensor } from '@saliency/eval';
import { internalsOf } from '../../packages/methods/src/masking/architecture';
import { maxAbsDiff, seeded } from '../setup_cpu';

/** `count` generated test scenes at the classifier's input size, and their labels. */
function scenes(classifier: Classifier, seed: number, count: number): { images: tf.Tensor4D; labels: number[] } {
  const set = generateLocalisationSet({ seed, count, split: 'test' });
  const images = tf.tidy(() => tf.image.resizeBilinear(tf.stack(set.map((s) => sampleToTensor(s))) as tf.Tensor4D, [...classifier.inputSize] as [number, number], false, true));
  return { images, labels: set.map((s) => s.label) };
}

/** The decoder without the cached folding: explicit batch-norms (running statistics), the training path's resize. */
function unfusedMasks(masker: MaskingModel, images: tf.Tensor4D, classes: number[]): tf.Tensor3D {
  const m = internalsOf(masker, 'test');
  return tf.tidy(() => {
    const { small } = m.forward(m.features(images), tf.tensor1d(classes, 'int32'), false);
    return m.upsample(small);
  });
}

describe('masking model fast inference on the digit CNN', () => {
  let bundled: BundledClassifier;
  let classifier: Classifier;
  let masker: MaskingModel;
  let start: number;
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm', quiet: true });
    start = tf.memory().numTensors;
    bundled = await loadGeneratedClassifier();
    classifier = bundled.classifier;
    masker = await loadDigitMasker(classifier);
  });
  afterAll(() => {
    masker.dispose();
    bundled.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('the committed masker has the architecture DIGIT_MASKER_TRAINING describes (lateral finest block: no follow-up weights)', () => {
    expect(masker.config.encoderLayers).toEqual([...DIGIT_MASKER_TRAINING.encoderLayers]);
    expect(masker.config.upsamplerChannels).toEqual([DIGIT_MASKER_TRAINING.upsamplerChannels, DIGIT_MASKER_TRAINING.upsamplerChannels]);
    expect(masker.config.upsampler).toBe(DIGIT_MASKER_TRAINING.upsampler);
    expect(masker.config.finestBlock ?? 'follow').toBe(DIGIT_MASKER_TRAINING.finestBlock ?? 'follow');
    const names = [...masker.weights.keys()];
    expect(names).toContain('head/skip_kernel');
    expect(names.filter((n) => n.startsWith('up1/follow'))).toEqual([]);
    expect(names.filter((n) => n.startsWith('up0/follow')).length).toBeGreaterThan(0);
  });

  it("'top' from the encoder's pass gives resolveTargets' classes on 40 real scenes, and the same masks", async () => {
    const { images } = scenes(classifier, 4242, 40);
    const before = tf.memory().numTensors;
    const want = await resolveTargets(classifier, images, 'top');
    const { masks, classes } = internalsOf(masker, 'test').masksForTop(images);
    expect(Array.from(await classes.data())).toEqual(want);
    expect(new Set(want).size).toBeGreaterThanOrEqual(5); // real, varied predictions, not one class
    const given = masker.masks(images, want);
    expect(maxAbsDiff(masks, given)).toBe(0);
    const explained = await maskingModel(masker, { batchSize: 16 }).explain(classifier, images, 'top');
    expect(maxAbsDiff(explained, given)).toBeLessThan(1e-6);
    tf.dispose([masks, classes, given, explained]);
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
  });

  it('cached folded batch-norms give the unfused decoder masks to 3e-5 (committed masker, real scenes)', () => {
    const { images, labels } = scenes(classifier, 77, 6);
    const before = tf.memory().numTensors;
    const fast = masker.masks(images, labels);
    const slow = unfusedMasks(masker, images, labels);
    // 3e-5: float32 rounding of folded against explicit batch-norms, amplified by |a| / (|a| + |b| + ε)
    // where |a| + |b| is small (the committed lateral masker's largest gap on these scenes: 1.4e-5).
    expect(maxAbsDiff(fast, slow)).toBeLessThan(3e-5);
    expect(tf.tidy(() => tf.sub(tf.max(slow), tf.min(slow)).dataSync()[0])).toBeGreaterThan(0.3); // real masks, not constant
    tf.dispose([fast, slow]);
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
  });

  // The committed masker (a fresh copy, statistics moved a little, as a training step moves them) at
  // 1e-5; untrained models of both up-sampler kinds with random statistics at 1e-4 (their |a|, |b| are
  // small, and |a| / (|a| + |b|) amplifies float32 rounding there).
  for (const kind of ['committed masker', 'conv', 'separable'] as const) {
    it(`refolds after assign() (as a training step does), same tensor count (${kind})`, async () => {
      const { images, labels } = scenes(classifier, 78, 3);
      const m = kind === 'committed masker' ? await loadDigitMasker(classifier)
        : createMaskingModel(classifier, { encoderLayers: pickEncoderLayers(classifier), upsamplerChannels: 8, upsampler: kind, seed: 3 });
      const [lo, hi] = kind === 'committed masker' ? [0.9, 1.1] : [0.3, 2];
      const before = tf.memory().numTensors;
      try {
        const first = m.masks(images, labels);
        let s = 20;
        tf.tidy(() => {
          for (const [name, v] of m.weights) {
            if (name.endsWith('/variance') || name.endsWith('/gamma')) v.assign(tf.mul(v, seeded(v.shape, s++, lo, hi)));
            if (name.endsWith('/mean') || name.endsWith('/beta')) v.assign(tf.add(v, seeded(v.shape, s++, lo - 1, hi - 1)));
          }
        });
        const second = m.masks(images, labels);
        const slow = unfusedMasks(m, images, labels);
        expect(maxAbsDiff(second, slow)).toBeLessThan(kind === 'committed masker' ? 1e-5 : 1e-4);
        expect(maxAbsDiff(first, second)).toBeGreaterThan(1e-3); // the new statistics were used
        tf.dispose([first, second, slow]);
        expect(tf.memory().numTensors).toBe(before);
      } finally {
        m.dispose();
        images.dispose();
      }
    });
  }

  it('no tensor leaks: a model created and disposed, an aborted explain, a throwing classifier', async () => {
    const { images, labels } = scenes(classifier, 79, 6);
    const before = tf.memory().numTensors;
    createMaskingModel(classifier, { encoderLayers: pickEncoderLayers(classifier), upsamplerChannels: 8, upsampler: 'separable', seed: 1 }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    for (const targets of ['top', labels] as const) {
      const ctrl = new AbortController();
      await expect(maskingModel(masker, { batchSize: 2, signal: ctrl.signal, onProgress: (p) => { if (p.done >= 2) ctrl.abort(); } })
        .explain(classifier, images, targets)).rejects.toMatchObject({ code: 'ABORTED' });
      expect(tf.memory().numTensors).toBe(before);
    }
    // The digit CNN, except that its head (the top class of the same pass) or its layer read-out throws mid-way.
    const headThrows: Classifier = {
      ...classifier,
      at: (layer) => ({ ...classifier.at(layer), head: (f, x) => { classifier.at(layer).head(f, x).dispose(); throw new Error('head failed'); } }),
    };
    const featuresThrow: Classifier = {
      ...classifier,
      layerFeatures: (layers, x) => { tf.dispose(classifier.layerFeatures!(layers, x)); throw new Error('features failed'); },
    };
    const other = await loadDigitMasker(headThrows);
    const before2 = tf.memory().numTensors;
    await expect(maskingModel(other).explain(headThrows, images, 'top')).rejects.toThrow('head failed');
    expect(tf.memory().numTensors).toBe(before2);
    other.dispose();
    const third = await loadDigitMasker(featuresThrow);
    const before3 = tf.memory().numTensors;
    for (const targets of ['top', labels] as const) {
      await expect(maskingModel(third).explain(featuresThrow, images, targets)).rejects.toThrow('features failed');
      expect(tf.memory().numTensors).toBe(before3);
    }
    third.dispose();
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
  });
});
