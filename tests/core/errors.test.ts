import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { explain, fromFunction, gradCam, imageToTensor, SaliencyError, vanillaGradient, type Classifier } from '@saliency/core';
import { seeded, useCpu } from '../setup_cpu';

beforeAll(useCpu);

function tiny(): Classifier {
  const w = seeded([4 * 4 * 3, 2], 1, -1, 1) as tf.Tensor2D;
  return fromFunction((x) => tf.matMul(tf.reshape(x, [-1, 48]), w), {
    inputSize: [4, 4], numClasses: 2, preprocess: { inputRange: [0, 1] },
    layers: { identity: { features: (x) => tf.clone(x), head: (f) => tf.matMul(tf.reshape(f, [-1, 48]), w) } },
  });
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(SaliencyError);
    expect((e as Error).message.length).toBeGreaterThan(20);
    return (e as SaliencyError).code;
  }
  return 'no error';
}

describe('every error code comes from a real bad input, and leaks nothing', () => {
  it('covers rank, channels, size, NaN, targets, layers, gradients and options', async () => {
    const c = tiny();
    const good = seeded([1, 4, 4, 3], 2) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const rank2 = tf.zeros([4, 4]);
    expect(await codeOf(explain(gradCam(), c, rank2 as unknown as tf.Tensor3D))).toBe('BAD_RANK');
    const rgba = tf.zeros([1, 4, 4, 4]) as tf.Tensor4D;
    expect(await codeOf(vanillaGradient().explain(c, rgba, 0))).toBe('BAD_CHANNELS');
    expect(await codeOf(() => imageToTensor({ data: new Uint8Array(0), width: 0, height: 3 }, [0, 1], 3))).toBe('IMAGE_TOO_SMALL');
    const empty = tf.zeros([1, 0, 4, 3]) as tf.Tensor4D;
    expect(await codeOf(explain(vanillaGradient(), c, empty))).toBe('IMAGE_TOO_SMALL');
    const nan = tf.fill([1, 4, 4, 3], NaN) as tf.Tensor4D;
    expect(await codeOf(explain(vanillaGradient(), c, nan))).toBe('NON_FINITE_INPUT');
    expect(await codeOf(vanillaGradient().explain(c, good, 2))).toBe('BAD_TARGET');
    expect(await codeOf(vanillaGradient().explain(c, good, -1))).toBe('BAD_TARGET');
    expect(await codeOf(gradCam({ layer: 'conv9' }).explain(c, good, 0))).toBe('UNKNOWN_LAYER');
    const flatLayer = fromFunction((x) => tf.reshape(tf.mean(x, [1, 2]), [-1, 3]) as tf.Tensor2D, {
      inputSize: [4, 4], numClasses: 3, layers: { pooled: { features: (x) => tf.mean(x, [1, 2]) as unknown as tf.Tensor4D, head: (f) => f as unknown as tf.Tensor2D } },
    });
    expect(await codeOf(gradCam().explain(flatLayer, good, 0))).toBe('LAYER_NOT_4D');
    const constant = fromFunction(() => tf.ones([1, 2]) as tf.Tensor2D, { inputSize: [4, 4], numClasses: 2, preprocess: { inputRange: [0, 1] } });
    expect(await codeOf(vanillaGradient().explain(constant, good, 0))).toBe('NO_GRADIENTS');
    expect(await codeOf(() => gradCam({ batchSize: 1.5 }))).toBe('BAD_OPTION');
    expect(await codeOf(() => fromFunction((x) => x as unknown as tf.Tensor2D, { inputSize: [0, 4], numClasses: 2 }))).toBe('BAD_OPTION');
    const ctrl = new AbortController();
    ctrl.abort();
    expect(await codeOf(vanillaGradient({ signal: ctrl.signal }).explain(c, good, 0))).toBe('ABORTED');
    tf.dispose([rank2, rgba, empty, nan]);
    expect(tf.memory().numTensors).toBe(before);
    good.dispose();
  });
});
