import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromFunction, vanillaGradient, SaliencyError } from '@saliency/core';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';

beforeAll(useCpu);

const H = 6, W = 5, C = 3, K = 4;

/** Linear classifier: logits = W·x (flattened), so ∂logit_c/∂x = W[:, c]. */
function linear() {
  const weights = seeded([H * W * C, K], 7, -1, 1) as tf.Tensor2D;
  const classifier = fromFunction((x) => tf.matMul(tf.reshape(x, [-1, H * W * C]), weights), {
    inputSize: [H, W], channels: C, numClasses: K, preprocess: { inputRange: [0, 1] },
  });
  return { weights, classifier };
}

function expected(weights: tf.Tensor2D, c: number, agg: 'maxAbs' | 'absSum' | 'signed'): tf.Tensor2D {
  return tf.tidy(() => {
    const wc = tf.reshape(tf.slice(weights, [0, c], [-1, 1]), [H, W, C]);
    const per = agg === 'maxAbs' ? tf.max(tf.abs(wc), -1) : agg === 'absSum' ? tf.sum(tf.abs(wc), -1) : tf.sum(wc, -1);
    const lo = tf.min(per), hi = tf.max(per);
    return tf.div(tf.sub(per, lo), tf.sub(hi, lo)) as tf.Tensor2D;
  });
}

describe('vanillaGradient', () => {
  it('equals max-over-channels |W_c| for a linear model (min-max normalised), per image and class', async () => {
    const { weights, classifier } = linear();
    const x = seeded([3, H, W, C], 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const maps = await vanillaGradient().explain(classifier, x, [0, 2, 3]);
    expect(tf.memory().numTensors).toBe(before + 1);
    [0, 2, 3].forEach((c, i) => {
      const want = expected(weights, c, 'maxAbs');
      const got = tf.squeeze(tf.slice(maps, [i, 0, 0], [1, -1, -1]), [0]);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
      tf.dispose([want, got]);
    });
    tf.dispose([maps, x, weights]);
  });

  it.each(['absSum', 'signed'] as const)('aggregate %s matches the analytic gradient', async (agg) => {
    const { weights, classifier } = linear();
    const x = seeded([2, H, W, C], 2) as tf.Tensor4D;
    const maps = await vanillaGradient({ aggregate: agg, batchSize: 1 }).explain(classifier, x, 1);
    const want = expected(weights, 1, agg);
    for (let i = 0; i < 2; i++) {
      const got = tf.squeeze(tf.slice(maps, [i, 0, 0], [1, -1, -1]), [0]);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
      got.dispose();
    }
    tf.dispose([maps, x, weights, want]);
  });

  it("'top' explains the argmax class and leaves no tensors behind", async () => {
    const { weights, classifier } = linear();
    const x = seeded([1, H, W, C], 3) as tf.Tensor4D;
    const top = tf.tidy(() => tf.argMax(classifier.logits(x), 1).dataSync()[0]);
    const before = tf.memory().numTensors;
    const a = await vanillaGradient().explain(classifier, x, 'top');
    const b = await vanillaGradient().explain(classifier, x, [top]);
    expect(maxAbsDiff(a, b)).toBe(0);
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, weights]);
  });

  it('rejects bad options and bad targets with codes, leaking nothing', async () => {
    const { weights, classifier } = linear();
    const x = seeded([2, H, W, C], 4) as tf.Tensor4D;
    expect(() => vanillaGradient({ aggregate: 'max' as 'maxAbs' })).toThrow(SaliencyError);
    expect(() => vanillaGradient({ batchSize: 0 })).toThrowError(/batchSize/);
    const before = tf.memory().numTensors;
    await expect(vanillaGradient().explain(classifier, x, [0, K])).rejects.toMatchObject({ code: 'BAD_TARGET' });
    await expect(vanillaGradient().explain(classifier, x, [0])).rejects.toMatchObject({ code: 'BAD_TARGET' });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, weights]);
  });

  it('stops at the abort signal between batches', async () => {
    const { weights, classifier } = linear();
    const x = seeded([4, H, W, C], 5) as tf.Tensor4D;
    const ctrl = new AbortController();
    const seen: number[] = [];
    const before = tf.memory().numTensors;
    const run = vanillaGradient({
      batchSize: 1, signal: ctrl.signal,
      onProgress: (p) => { seen.push(p.done); if (p.done === 2) ctrl.abort(); },
    }).explain(classifier, x, 0);
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    expect(seen).toEqual([1, 2]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, weights]);
  });
});

describe("'top' targets", () => {
  it('are resolved in batches that give the same classes as one big pass', async () => {
    const { resolveTargets } = await import('@saliency/core');
    const { weights, classifier } = linear();
    const x = seeded([7, H, W, C], 6, -1, 1) as tf.Tensor4D;
    const want = Array.from(tf.tidy(() => tf.argMax(classifier.logits(x), 1)).dataSync());
    const before = tf.memory().numTensors;
    expect(await resolveTargets(classifier, x, "top", 3)).toEqual(want);
    expect(await resolveTargets(classifier, x, "top", 100)).toEqual(want);
    expect(new Set(want).size).toBeGreaterThan(1);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, weights]);
  });
});
