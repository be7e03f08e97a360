import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromFunction, type Classifier, type PreprocessSpec } from '@saliency/core';
import { classModel } from '@saliency/methods';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';

beforeAll(useCpu);

const [H, W, C, K] = [4, 5, 3, 3];
const D = H * W * C;

/** logits = W·u with u the PREPROCESSED image (what fromFunction's function receives). */
function linear(weights: tf.Tensor2D, preprocess: PreprocessSpec): Classifier {
  return fromFunction((u) => tf.matMul(tf.reshape(u, [-1, D]), weights), { inputSize: [H, W], channels: C, numClasses: K, preprocess });
}

/** A two-layer ReLU net (nonlinear score), inputs in [0, 1]. */
function reluNet() {
  const w1 = seeded([D, 12], 31, -1, 1) as tf.Tensor2D;
  const b1 = seeded([12], 32, -0.2, 0.2) as tf.Tensor1D;
  const w2 = seeded([12, K], 33, -1, 1) as tf.Tensor2D;
  const classifier = fromFunction((u) => tf.matMul(tf.relu(tf.add(tf.matMul(tf.reshape(u, [-1, D]), w1), b1)), w2),
    { inputSize: [H, W], channels: C, numClasses: K, preprocess: { inputRange: [-1, 1] } });
  return { classifier, dispose: () => tf.dispose([w1, b1, w2]) };
}

/** S_c and the objective S_c − λ‖preprocess(I)‖² of an image [H, W, C]. */
function objective(classifier: Classifier, image: tf.Tensor3D, c: number, lambda: number): { score: number; objective: number } {
  return tf.tidy(() => {
    const x = tf.expandDims(image, 0) as tf.Tensor4D;
    const score = classifier.logits(x).dataSync()[c];
    const norm = tf.sum(tf.square(classifier.preprocess(x))).dataSync()[0];
    return { score, objective: score - lambda * norm };
  });
}

describe('classModel (Simonyan class model visualisation)', () => {
  it('on logits = W·x converges to the analytic optimum I* = W_c / (2λ) (clipping inactive)', async () => {
    // W_c in [0.2, 1.6] so that I* = W_c / 2 lies in [0.1, 0.8], inside the [0, 1] input range.
    const weights = seeded([D, K], 3, 0.2, 1.6) as tf.Tensor2D;
    const classifier = linear(weights, { inputRange: [0, 1] });
    const lambda = 1;
    const before = tf.memory().numTensors;
    const image = await classModel(classifier, 2, { steps: 150, lr: 0.1, lambda });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(image.shape).toEqual([H, W, C]);
    const want = tf.tidy(() => tf.reshape(tf.div(tf.slice(weights, [0, 2], [-1, 1]), 2 * lambda), [H, W, C]));
    expect(maxAbsDiff(image, want)).toBeLessThan(1e-5);
    // After 10 steps the gap is (1 − 2λ·lr)^10 = 0.8^10 of the start's: the analytic rate.
    const early = await classModel(classifier, 2, { steps: 10, lr: 0.1, lambda });
    const gap = tf.tidy(() => tf.div(tf.sub(want, early), want));
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(gap, 0.8 ** 10))).dataSync()[0])).toBeLessThan(1e-4);
    tf.dispose([image, want, early, gap, weights]);
  });

  it("starts from and penalises the PREPROCESSED image: with mean 100 / std 50 the optimum is 100 + 50·W_c/(2λ)", async () => {
    const weights = seeded([D, K], 4, -1, 1) as tf.Tensor2D;
    const classifier = linear(weights, { inputRange: [0, 255], mean: 100, std: 50 });
    const lambda = 2;
    const image = await classModel(classifier, 0, { steps: 100, lr: 0.1, lambda });
    const want = tf.tidy(() => tf.add(100, tf.mul(50, tf.reshape(tf.div(tf.slice(weights, [0, 0], [-1, 1]), 2 * lambda), [H, W, C]))));
    expect(maxAbsDiff(image, want)).toBeLessThan(1e-3);
    // One tiny step from zero: still the mean image, nudged along W_c.
    const first = await classModel(classifier, 0, { steps: 1, lr: 1e-6, lambda });
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(first, 100))).dataSync()[0])).toBeLessThan(1e-3);
    tf.dispose([image, want, first, weights]);
  });

  it('with clipping active, converges to the optimum clipped to the input range (the projected ascent of a separable concave objective)', async () => {
    const weights = seeded([D, K], 5, -1, 1) as tf.Tensor2D;
    const classifier = linear(weights, { inputRange: [0, 1] });
    const lambda = 0.25; // I* = 2·W_c ∈ [−2, 2]: most pixels clip to 0 or 1
    const image = await classModel(classifier, 1, { steps: 200, lr: 0.2, lambda });
    const want = tf.tidy(() => tf.clipByValue(tf.reshape(tf.div(tf.slice(weights, [0, 1], [-1, 1]), 2 * lambda), [H, W, C]), 0, 1));
    expect(maxAbsDiff(image, want)).toBeLessThan(1e-5);
    const clipped = tf.tidy(() => tf.sum(tf.cast(tf.logicalOr(tf.equal(want, 0), tf.equal(want, 1)), 'float32')).dataSync()[0]);
    expect(clipped).toBeGreaterThan(D / 2);
    tf.dispose([image, want, weights]);
  });

  it('S_c and the objective increase monotonically over steps for a small lr (linear and ReLU models)', async () => {
    const weights = seeded([D, K], 6, 0.2, 1.6) as tf.Tensor2D;
    const lin = linear(weights, { inputRange: [0, 1] });
    const { classifier: net, dispose } = reluNet();
    for (const [classifier, c, lr, lambda] of [[lin, 0, 0.05, 1], [net, 1, 0.02, 0.1]] as const) {
      const trace: { score: number; objective: number }[] = [];
      for (let steps = 1; steps <= 8; steps++) {
        const image = await classModel(classifier, c, { steps, lr, lambda });
        trace.push(objective(classifier, image, c, lambda));
        image.dispose();
      }
      const start = objective(classifier, tf.tidy(() => tf.squeeze(tf.zeros([1, H, W, C]))) as tf.Tensor3D, c, lambda);
      console.log(`class model trace (${classifier === lin ? 'linear' : 'ReLU net'}): S_c ${[start, ...trace].map((t) => t.score.toFixed(3)).join(' → ')}`);
      const scores = [start.score, ...trace.map((t) => t.score)];
      const objectives = [start.objective, ...trace.map((t) => t.objective)];
      for (let i = 1; i < scores.length; i++) {
        expect(scores[i]).toBeGreaterThan(scores[i - 1]);
        expect(objectives[i]).toBeGreaterThan(objectives[i - 1]);
      }
    }
    tf.dispose([weights]);
    dispose();
  });

  it('initNoise + seed: same seed → same image, different seed → different image; zero noise ignores the seed', async () => {
    const { classifier, dispose } = reluNet();
    const run = (seed: number, initNoise: number) => classModel(classifier, 0, { steps: 3, initNoise, seed });
    const [a, b, c, z1, z2] = [await run(1, 0.3), await run(1, 0.3), await run(2, 0.3), await run(1, 0), await run(2, 0)];
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(z1, z2)).toBe(0);
    tf.dispose([a, b, c, z1, z2]);
    dispose();
  });

  it('reports progress per step, stops at the abort signal, rejects bad input with codes, and leaks nothing', async () => {
    const { classifier, dispose } = reluNet();
    const before = tf.memory().numTensors;
    const seen: string[] = [];
    const ctrl = new AbortController();
    await expect(classModel(classifier, 0, { steps: 10, signal: ctrl.signal, onProgress: (p) => { seen.push(`${p.phase} ${p.done}/${p.total}`); if (p.done === 3) ctrl.abort(); } }))
      .rejects.toMatchObject({ code: 'ABORTED' });
    expect(seen).toEqual(['ascent 1/10', 'ascent 2/10', 'ascent 3/10']);
    expect(tf.memory().numTensors).toBe(before);
    let steps = 0;
    const timed = new AbortController();
    setTimeout(() => timed.abort(), 0);
    await expect(classModel(classifier, 0, { steps: 10_000, signal: timed.signal, onProgress: (p) => { steps = p.done; } })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(steps).toBeGreaterThan(0);
    expect(steps).toBeLessThan(10_000);
    expect(tf.memory().numTensors).toBe(before);
    await expect(classModel(classifier, K)).rejects.toMatchObject({ code: 'BAD_TARGET' });
    await expect(classModel(classifier, -1)).rejects.toMatchObject({ code: 'BAD_TARGET' });
    for (const bad of [{ steps: 0 }, { lr: 0 }, { lr: Number.NaN }, { lambda: -1 }, { initNoise: -1 }, { seed: 0.5 }]) {
      await expect(classModel(classifier, 0, bad)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    }
    const squared = fromFunction((u) => tf.matMul(tf.reshape(u, [-1, D]), tf.ones([D, K])), {
      inputSize: [H, W], channels: C, numClasses: K, preprocess: (x) => tf.square(x), // not affine: refused up front
    });
    await expect(classModel(squared, 0)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    const broken = fromFunction((u) => { tf.relu(u); throw new Error('model failed'); }, {
      inputSize: [H, W], channels: C, numClasses: K, preprocess: { inputRange: [0, 1] },
    });
    await expect(classModel(broken, 0, { steps: 2 })).rejects.toThrow('model failed');
    expect(tf.memory().numTensors).toBe(before);
    dispose();
  });
});
