/**
 * Issue 16, item 1: a classifier that throws in its forward or backward pass part-way
 * through an optimisation built on tf.variableGrads (meaningful perturbation, masking-model
 * training) must leave no tensors and no active gradient tape behind, and the next call
 * must give exactly what a clean engine gives.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMaskingModel, fromFunction, meaningfulPerturbation, trainMaskingModel, type Classifier } from '@saliency/core';
import { seeded, useCpu } from '../setup_cpu';
import { squareClassifier, squareData } from '../methods/masking_fixtures';

beforeAll(useCpu);

interface Faults { forwardAt: number; backward: boolean; calls: number }

/** A gradient-identity op whose backward pass throws. */
const failingBackward = tf.customGrad((...inputs) => ({
  value: tf.clone(inputs[0] as tf.Tensor),
  gradFunc: () => { throw new Error('backward failed'); },
})) as (a: tf.Tensor) => tf.Tensor;

/** Wraps a classifier so that its `logits` throw on call number `forwardAt`, or its backward pass throws. */
function faulty(c: Classifier, f: Faults): Classifier {
  return {
    ...c,
    logits: (x) => {
      f.calls++;
      if (f.calls === f.forwardAt) throw new Error('forward failed');
      const y = c.logits(x);
      if (!f.backward) return y;
      const z = failingBackward(y) as tf.Tensor2D;
      y.dispose();
      return z;
    },
  };
}

const activeTape = (): unknown => (tf.engine().state as unknown as { activeTape: unknown }).activeTape;

function linearClassifier(): { classifier: Classifier; dispose: () => void } {
  const W = seeded([8 * 8 * 3, 4], 1, -1, 1);
  const classifier = fromFunction((x) => tf.matMul(tf.reshape(x, [-1, 192]), W) as tf.Tensor2D, {
    inputSize: [8, 8], channels: 3, numClasses: 4, preprocess: { inputRange: [0, 1] },
  });
  return { classifier, dispose: () => W.dispose() };
}

describe('a classifier that throws part-way', () => {
  it('meaningfulPerturbation: no leak, no tape left, the next call equals a clean one', async () => {
    const { classifier, dispose } = linearClassifier();
    const x = seeded([2, 8, 8, 3], 2) as tf.Tensor4D;
    const method = meaningfulPerturbation({ steps: 4, seed: 7, batchSize: 2 });
    const clean = await method.explain(classifier, x, [0, 1]);
    const cleanData = await clean.data();
    clean.dispose();
    expect(activeTape()).toBeNull();
    const before = tf.memory().numTensors;
    const f: Faults = { forwardAt: 3, backward: false, calls: 0 };
    await expect(method.explain(faulty(classifier, f), x, [0, 1])).rejects.toThrow('forward failed');
    expect(tf.memory().numTensors).toBe(before);
    expect(activeTape()).toBeNull();
    const g: Faults = { forwardAt: -1, backward: true, calls: 0 };
    await expect(method.explain(faulty(classifier, g), x, [0, 1])).rejects.toThrow('backward failed');
    expect(tf.memory().numTensors).toBe(before);
    expect(activeTape()).toBeNull();
    const again = await method.explain(classifier, x, [0, 1]);
    expect(Array.from(await again.data())).toEqual(Array.from(cleanData));
    again.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    dispose();
  });

  it('trainMaskingModel: no leak, no tape left, the next training equals a clean one', async () => {
    const { classifier, model } = squareClassifier();
    const weightsAfter = async (c: Classifier, steps: number) => {
      const m = createMaskingModel(c, { encoderLayers: ['c1', 'c2', 'c3'], seed: 3 });
      try {
        await trainMaskingModel(m, squareData(5), { steps, batchSize: 2, seed: 9 });
        const w = m.trainableWeights;
        return await Promise.all(w.map(async (v: tf.Tensor) => Array.from(await v.data())));
      } finally {
        m.dispose();
      }
    };
    const clean = await weightsAfter(classifier, 2);
    const before = tf.memory().numTensors;
    for (const f of [{ forwardAt: 2, backward: false, calls: 0 }, { forwardAt: -1, backward: true, calls: 0 }]) {
      await expect(weightsAfter(faulty(classifier, f), 2)).rejects.toThrow(/forward failed|backward failed/);
      expect(tf.memory().numTensors).toBe(before);
      expect(activeTape()).toBeNull();
    }
    expect(await weightsAfter(classifier, 2)).toEqual(clean);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
