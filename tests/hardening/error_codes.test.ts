/**
 * Issue 16, item 7: codes named for what went wrong. A tensor of the wrong height/width given
 * to a method directly is BAD_SIZE (it was BAD_RANK, though its rank is right); a non-integer
 * image side is BAD_SIZE (it was IMAGE_TOO_SMALL, though the image is not small). The former
 * code stays readable as `formerCode`, and `is()` accepts either, so code written against the
 * old codes keeps working.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { explain, fromFunction, gradCam, imageToTensor, rise, SaliencyError, scoreCam, vanillaGradient } from '@saliency/core';
import { createMaskingModel, trainMaskingModel } from '@saliency/methods';
import { seeded, useCpu } from '../setup_cpu';
import { squareClassifier } from '../methods/masking_fixtures';

beforeAll(useCpu);

async function caught(f: () => unknown): Promise<SaliencyError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof SaliencyError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

function tiny() {
  const W = seeded([4 * 4 * 3, 3], 1, -1, 1);
  const feat = (x: tf.Tensor4D) => tf.relu(x) as tf.Tensor4D;
  const head = (f: tf.Tensor4D) => tf.matMul(tf.reshape(f, [-1, 48]), W) as tf.Tensor2D;
  const classifier = fromFunction((x) => head(feat(x)), {
    inputSize: [4, 4], numClasses: 3, preprocess: { inputRange: [0, 1] }, layers: { relu: { features: feat, head } },
  });
  return { classifier, dispose: () => W.dispose() };
}

describe('error codes named for what went wrong', () => {
  it("the guide's check written against the new code catches a wrong-size tensor (docs/guides/bring-your-own-model.md)", async () => {
    const { classifier, dispose } = tiny();
    const images = seeded([1, 5, 4, 3], 2) as tf.Tensor4D;
    let code = '';
    try { await gradCam().explain(classifier, images, 'top'); }
    catch (e) { if (e instanceof SaliencyError && e.is('BAD_SIZE')) code = e.code; else throw e; }
    expect(code).toBe('BAD_SIZE');
    images.dispose();
    dispose();
  });

  it('a wrong-size tensor given to a method directly is BAD_SIZE (formerly BAD_RANK)', async () => {
    const { classifier, dispose } = tiny();
    const wrong = seeded([1, 5, 4, 3], 2) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (const m of [vanillaGradient(), gradCam(), scoreCam(), rise({ n: 4, s: 2, seed: 1 })]) {
      const e = await caught(() => m.explain(classifier, wrong, 0));
      expect(e.code).toBe('BAD_SIZE');
      expect(e.formerCode).toBe('BAD_RANK');
      expect(e.is('BAD_SIZE') && e.is('BAD_RANK')).toBe(true);
      expect(e.is('BAD_CHANNELS')).toBe(false);
      expect(e.message).toMatch(/4×4/);
    }
    // explain() resizes: the same tensor is fine there.
    const map = await explain(gradCam(), classifier, wrong);
    expect(map.shape).toEqual([1, 5, 4]);
    map.dispose();
    expect(tf.memory().numTensors).toBe(before);
    wrong.dispose();
    dispose();
  });

  it('a non-integer image side is BAD_SIZE (formerly IMAGE_TOO_SMALL); a side below 1 stays IMAGE_TOO_SMALL', async () => {
    const data = new Uint8Array(3 * 3 * 3);
    const frac = await caught(() => imageToTensor({ data, width: 2.5, height: 3 }, [0, 1], 3));
    expect(frac.code).toBe('BAD_SIZE');
    expect(frac.formerCode).toBe('IMAGE_TOO_SMALL');
    expect(frac.is('IMAGE_TOO_SMALL')).toBe(true);
    const nan = await caught(() => imageToTensor({ data, width: NaN, height: 3 }, [0, 1], 3));
    expect(nan.code).toBe('BAD_SIZE');
    const zero = await caught(() => imageToTensor({ data: new Uint8Array(0), width: 0, height: 3 }, [0, 1], 3));
    expect(zero.code).toBe('IMAGE_TOO_SMALL');
    expect(zero.formerCode).toBeUndefined();
    expect(zero.is('IMAGE_TOO_SMALL')).toBe(true);
    expect(zero.is('BAD_SIZE')).toBe(false);
  });

  it('trainMaskingModel: data of the wrong size is BAD_SIZE (formerly BAD_RANK); of the wrong rank stays BAD_RANK', async () => {
    const sq = squareClassifier();
    const m = createMaskingModel(sq.classifier, { encoderLayers: ['c1', 'c2', 'c3'], seed: 3 });
    const before = tf.memory().numTensors;
    const one = (image: () => tf.Tensor, label: number) => () => [{ image: image() as tf.Tensor3D, label }];
    const size = await caught(() => trainMaskingModel(m, one(() => tf.zeros([16, 16, 1]), 0), { steps: 1, batchSize: 1 }));
    expect(size.code).toBe('BAD_SIZE');
    expect(size.formerCode).toBe('BAD_RANK');
    const rank = await caught(() => trainMaskingModel(m, one(() => tf.zeros([32, 32]), 0), { steps: 1, batchSize: 1 }));
    expect(rank.code).toBe('BAD_RANK');
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    sq.model.dispose();
  });
});
