import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFunction, fromLayersModel, gaussianBlur, minMaxNormalize } from '@saliency/core';
import { groupCam } from '@saliency/methods';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';
import { faceSanity, median, rankCorrelation, type FaceSanity } from './perturbation_sanity';

beforeAll(useCpu);

/**
 * A classifier on 2×2 images with 2 channels whose layer 'feat' IS the
 * (identity-preprocessed) image, A = x, followed by global average pooling and a dense layer:
 * logits = b + Wᵀ·mean_p(A). So ∂logit_c/∂A_k(p) = W[k][c] / 4 and α_k = W[k][c] / 4.
 */
const W = [[3, -1, 0.5], [-2, 1.5, 2]];
const B = [0.1, 0, -0.2];
function gapDense(a: tf.Tensor4D): tf.Tensor2D {
  return tf.add(tf.matMul(tf.mean(a, [1, 2]) as tf.Tensor2D, tf.tensor2d(W)), tf.tensor1d(B)) as tf.Tensor2D;
}
const handClassifier = () => fromFunction(gapDense, {
  inputSize: [2, 2], numClasses: 3, channels: 2, preprocess: { inputRange: [0, 1] },
  layers: { feat: { features: (x) => tf.clone(x), head: (f) => gapDense(f) } },
});

describe('groupCam: hand computation on a 2×2×2 feature map (G = K = 2, GAP + dense)', () => {
  it('follows design.md §3 step by step', async () => {
    // x[y][x][k]
    const X = [[[0.9, 0.2], [0.1, 0.8]], [[0.4, 0.7], [0.6, 0.3]]];
    const c = 1;
    // --- by hand, in plain numbers ---
    const logits = (img: number[][][]) => {
      const m = [0, 1].map((k) => (img[0][0][k] + img[0][1][k] + img[1][0][k] + img[1][1][k]) / 4);
      return [0, 1, 2].map((j) => B[j] + m[0] * W[0][j] + m[1] * W[1][j]);
    };
    const prob = (img: number[][][]) => { const l = logits(img); const e = l.map(Math.exp); return e[c] / e.reduce((s, v) => s + v, 0); };
    const alpha = [W[0][c] / 4, W[1][c] / 4]; // [-0.25, 0.375]
    // Group g = channel g; the 2×2 feature map is already at the 2×2 input size (up-sampling is the identity).
    const groupMap = [0, 1].map((k) => [0, 1].map((y) => [0, 1].map((x) => Math.max(0, alpha[k] * X[y][x][k]))));
    const minMax = (m: number[][]) => {
      const v = m.flat(); const lo = Math.min(...v), hi = Math.max(...v);
      return m.map((r) => r.map((e) => (hi > lo ? (e - lo) / (hi - lo) : 0)));
    };
    const M = groupMap.map(minMax);
    // Blur 51×51, σ = 50, reflect-101 border. On 2 pixels the padded row is periodic (v0 v1 v0 v1 …), so
    // out = [E·v0 + O·v1, O·v0 + E·v1], E = Σ of the Gaussian's weights at even offsets, O at odd ones.
    const g = Array.from({ length: 51 }, (_, i) => Math.exp(-((i - 25) ** 2) / (2 * 50 * 50)));
    const total = g.reduce((s, v) => s + v, 0);
    const E = g.filter((_, i) => (i - 25) % 2 === 0).reduce((s, v) => s + v, 0) / total;
    const O = 1 - E;
    const K = [[E, O], [O, E]];
    const blurred = [0, 1].map((y) => [0, 1].map((x) => [0, 1].map((k) => {
      let s = 0;
      for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) s += K[y][a] * K[x][b] * X[a][b][k];
      return s;
    })));
    const base = prob(blurred);
    const raw = [0, 1].map((gi) => prob([0, 1].map((y) => [0, 1].map((x) => [0, 1].map((k) =>
      X[y][x][k] * M[gi][y][x] + blurred[y][x][k] * (1 - M[gi][y][x]))))) - base);
    const score = raw.map((r) => Math.max(0, r));
    const sum = [0, 1].map((y) => [0, 1].map((x) => score[0] * groupMap[0][y][x] + score[1] * groupMap[1][y][x]));
    const want = minMax(sum);
    // The example exercises every branch: group 0 has α < 0 (its map is all zeros, M = 0, score 0);
    // group 1's map is positive and its score too.
    expect(groupMap[0].flat().every((v) => v === 0)).toBe(true);
    expect(raw[0]).toBeCloseTo(0, 12);
    expect(score[1]).toBeGreaterThan(0.01);
    // --- the method ---
    const x = tf.tensor4d(X.flat(2), [1, 2, 2, 2]);
    const before = tf.memory().numTensors;
    const got = await groupCam({ layer: 'feat', groups: 2 }).explain(handClassifier(), x, c);
    expect(tf.memory().numTensors).toBe(before + 1);
    const data = got.arraySync()[0];
    for (let y = 0; y < 2; y++) for (let xx = 0; xx < 2; xx++) expect(data[y][xx]).toBeCloseTo(want[y][xx], 5);
    tf.dispose([got, x]);
  });

  it('clips a negative score: a group whose masked image scores below the blurred baseline adds nothing', async () => {
    // Class 2 weighs channel 0 by 0.5 and channel 1 by 2 (both α > 0); with this image keeping
    // group 0's pixels lowers p_2 below the baseline, so group 0 must drop out and the map is group 1's alone.
    const X = [[[0.95, 0.05], [0.05, 0.1]], [[0.1, 0.9], [0.05, 0.05]]];
    const x = tf.tensor4d(X.flat(2), [1, 2, 2, 2]);
    const classifier = handClassifier();
    const p2 = (img: tf.Tensor4D) => tf.tidy(() => classifier.probabilities(img).dataSync()[2]);
    // Check the premise with tensors: group 0's mask M_0 = min-max(relu(α_0·A_0)) = min-max(A_0).
    const check = tf.tidy(() => {
      const b = gaussianBlur(x, { kernelSize: 51, sigma: 50 });
      const m0 = minMaxNormalize(tf.reshape(tf.slice(x, [0, 0, 0, 0], [1, 2, 2, 1]), [1, 2, 2]) as tf.Tensor3D);
      const masked = tf.add(tf.mul(x, tf.reshape(m0, [1, 2, 2, 1])), tf.mul(b, tf.sub(1, tf.reshape(m0, [1, 2, 2, 1])))) as tf.Tensor4D;
      return [p2(masked), p2(b)];
    });
    expect(check[0]).toBeLessThan(check[1]); // score_0 < 0 before the ReLU
    const got = await groupCam({ layer: 'feat', groups: 2 }).explain(classifier, x, 2);
    const only1 = tf.tidy(() => minMaxNormalize(tf.reshape(tf.slice(x, [0, 0, 0, 1], [1, 2, 2, 1]), [1, 2, 2]) as tf.Tensor3D));
    expect(maxAbsDiff(got, only1)).toBeLessThan(1e-5);
    tf.dispose([got, only1, x]);
  });
});

/** conv (stride 2) → conv 'feat' (12 channels, ReLU) → GAP → dense: α_k = W_fc[k, c] / (h'·w') exactly. */
function smallNet() {
  const input = tfl.input({ shape: [16, 16, 3] });
  let h = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: tfl.initializers.randomNormal({ seed: 3, stddev: 0.5 }) }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 12, kernelSize: 3, padding: 'same', activation: 'relu', name: 'feat', kernelInitializer: tfl.initializers.randomNormal({ seed: 4, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 4, name: 'fc', kernelInitializer: tfl.initializers.randomNormal({ seed: 5, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

describe('groupCam on a small conv net', () => {
  const model = smallNet();
  const mean = [0.4, 0.5, 0.6];
  const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1], mean, std: 0.25 } });
  const trunk = tfl.model({ inputs: model.inputs, outputs: model.getLayer('feat').output as tfl.SymbolicTensor });
  afterAll(() => model.dispose());

  /** Direct, unbatched Group-CAM: one forward per group, α from the dense weights. */
  function reference(x: tf.Tensor4D, cls: number[], groups: number): { map: tf.Tensor3D; scores: number[][] } {
    const scores: number[][] = [];
    const map = tf.tidy(() => {
      const fc = model.getLayer('fc').getWeights()[0]; // [12, 4]
      const maps: tf.Tensor[] = [];
      for (let i = 0; i < x.shape[0]; i++) {
        const xi = tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
        const a = trunk.predict(classifier.preprocess(xi)) as tf.Tensor4D; // [1, 8, 8, 12]
        const alpha = tf.div(tf.reshape(tf.slice(fc, [0, cls[i]], [-1, 1]), [12]), 64);
        const blurred = gaussianBlur(xi, { kernelSize: 51, sigma: 50 });
        const prob = (img: tf.Tensor4D) => tf.softmax(model.predict(classifier.preprocess(img)) as tf.Tensor2D).dataSync()[cls[i]];
        const base = prob(blurred);
        let acc: tf.Tensor = tf.zeros([16, 16]);
        const row: number[] = [];
        const size = Math.floor(12 / groups), extra = 12 % groups;
        for (let g = 0, start = 0; g < groups; g++) {
          const n = size + (g < extra ? 1 : 0);
          const gm = tf.relu(tf.sum(tf.mul(tf.slice(a, [0, 0, 0, start], [1, 8, 8, n]), tf.slice(alpha, [start], [n])), 3, true)) as tf.Tensor4D;
          start += n;
          const up = tf.reshape(tf.image.resizeBilinear(gm, [16, 16], false, true), [16, 16]);
          const lo = tf.min(up), hi = tf.max(up);
          const m = hi.dataSync()[0] > lo.dataSync()[0] ? tf.div(tf.sub(up, lo), tf.sub(hi, lo)) : tf.zerosLike(up);
          const m4 = tf.reshape(m, [1, 16, 16, 1]);
          const s = Math.max(0, prob(tf.add(tf.mul(xi, m4), tf.mul(blurred, tf.sub(1, m4))) as tf.Tensor4D) - base);
          row.push(s);
          acc = tf.add(acc, tf.mul(up, s));
        }
        scores.push(row);
        maps.push(acc);
      }
      return minMaxNormalize(tf.stack(maps) as tf.Tensor3D);
    });
    return { map, scores };
  }

  it('equals a direct, unbatched computation (one forward per group) for batchSize 1, 3 and 32', async () => {
    const x = seeded([2, 16, 16, 3], 12) as tf.Tensor4D;
    const cls = [2, 3]; // image 0: the top class (p ≈ 0.82, blurred ≈ 0.37); image 1: a minor class
    for (const groups of [12, 5]) {
      const { map: want, scores } = reference(x, cls, groups);
      console.log(`Group-CAM reference scores (G = ${groups}): ${scores.map((r) => r.map((s) => s.toFixed(4)).join(' ')).join(' | ')}`);
      // Several groups score > 0 and some are clipped to 0, so both the weights and the ReLU matter.
      expect(scores.flat().filter((s) => s > 1e-4).length).toBeGreaterThanOrEqual(3);
      expect(scores.flat().some((s) => s === 0)).toBe(true);
      for (const batchSize of [1, 3, 32]) {
        const before = tf.memory().numTensors;
        const got = await groupCam({ layer: 'feat', groups, batchSize }).explain(classifier, x, cls);
        expect(tf.memory().numTensors).toBe(before + 1);
        expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
        got.dispose();
      }
      want.dispose();
    }
    x.dispose();
  });

  it("defaults to min(32, K) groups and the 51×51 σ 50 blur; 'top' targets; progress per batch", async () => {
    const x = seeded([1, 16, 16, 3], 13) as tf.Tensor4D;
    const top = tf.tidy(() => tf.argMax(classifier.logits(x), 1).dataSync()[0]);
    const { map: want } = reference(x, [top], 12);
    const seen: number[] = [];
    const got = await groupCam({ layer: 'feat', batchSize: 5, onProgress: (p) => { seen.push(p.done); expect(p.total).toBe(12); expect(p.phase).toBe('groupcam'); } }).explain(classifier, x, 'top');
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    expect(seen).toEqual([5, 10, 12]);
    tf.dispose([got, want, x]);
  });

  it('stops within one batch of an abort, and leaks nothing on abort or error', async () => {
    const x = seeded([2, 16, 16, 3], 14) as tf.Tensor4D;
    const controller = new AbortController();
    let batches = 0;
    const before = tf.memory().numTensors;
    await expect(groupCam({ layer: 'feat', batchSize: 2, signal: controller.signal, onProgress: () => { if (++batches === 2) controller.abort(); } })
      .explain(classifier, x, [0, 1])).rejects.toMatchObject({ code: 'ABORTED' });
    expect(batches).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    await expect(groupCam({ layer: 'feat', groups: 13 }).explain(classifier, x, 0)).rejects.toMatchObject({ code: 'BAD_OPTION', message: expect.stringContaining('12 channels') });
    await expect(groupCam({ layer: 'nope' }).explain(classifier, x, 0)).rejects.toMatchObject({ code: 'UNKNOWN_LAYER' });
    await expect(groupCam({ layer: 'gap' }).explain(classifier, x, 0)).rejects.toMatchObject({ code: 'LAYER_NOT_4D' });
    await expect(groupCam({ layer: 'feat' }).explain(classifier, x, [0, 9])).rejects.toMatchObject({ code: 'BAD_TARGET' });
    expect(tf.memory().numTensors).toBe(before);
    expect(() => groupCam({ groups: 0 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => groupCam({ blur: { kernelSize: 50, sigma: 50 } })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => groupCam({ batchSize: 1.5 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    x.dispose();
  });
});

describe('groupCam model-randomisation sanity check (Adebayo et al.) on the real face model, wasm', () => {
  let sanity: FaceSanity;
  beforeAll(async () => { sanity = await faceSanity(); });
  afterAll(() => sanity?.dispose());

  it('re-initialising fc and dense3 changes the map: median Spearman ρ over three random copies < 0.5', async () => {
    const method = () => groupCam({ layer: 'dense3' });
    const before = tf.memory().numTensors;
    const trained = await sanity.map(method(), 'trained');
    const rhos: number[] = [];
    for (let i = 0; i < sanity.seeds.length; i++) rhos.push(rankCorrelation(trained, await sanity.map(method(), i)));
    expect(tf.memory().numTensors).toBe(before);
    console.log(`Group-CAM on the face model: Spearman ρ(trained, randomised) = ${rhos.map((r) => r.toFixed(3)).join(', ')} (copies ${sanity.seeds.join(', ')}); median ${median(rhos).toFixed(3)}`);
    expect(trained.some((v) => v !== trained[0])).toBe(true); // the trained model's map has structure
    expect(median(rhos)).toBeLessThan(0.5);
  });
});
