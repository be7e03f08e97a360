/**
 * The building blocks of the masking model and meaningful perturbation against
 * independent truths (hand computations, tfjs's own kernels, finite differences),
 * on the cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { gaussianBlur } from '@saliency/core';
import {
  areaLoss, combineObjective, destroyerLoss, existsLoss, MASKING_OBJECTIVE_DEFAULTS, objectiveTerms, preserverLoss, smoothnessLoss,
} from '../../packages/methods/src/masking/objective';
import { maskedObjective } from '../../packages/methods/src/masking/loss';
import { alternativeImages, alternativeDraw, ALTERNATIVE_DEFAULTS } from '../../packages/methods/src/masking/alternatives';
import { conv2dIm2col, conv2dSame, pixelShuffle2 } from '../../packages/methods/src/masking/layers';
import { bilinearMatrix, resizeMasks, resizeTables } from '../../packages/methods/src/masking/upsample';
import { Adam } from '../../packages/methods/src/masking/adam';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';
import { squareClassifier } from './masking_fixtures';

beforeAll(useCpu);

const arr = (t: tf.Tensor): number[] => Array.from(t.dataSync());

describe('objective terms (hand-computed)', () => {
  // m = [[0, 1, 0], [0.5, 1, 0.5]] (H = 2, W = 3).
  const M = [0, 1, 0, 0.5, 1, 0.5];
  it('smoothness: (Σ vertical² + Σ horizontal² + border·Σ edge²) / 2', () => {
    const m = tf.tensor3d([...M, ...M.map((v) => 1 - v)], [2, 2, 3]);
    // Sample 0: vertical diffs (0.5, 0, 0.5) → 0.5; horizontal (1, −1, 0.5, −0.5) → 2.5.
    // Edges: top row 0+1+0 = 1, bottom row 0.25+1+0.25 = 1.5, left col 0+0.25, right col 0+0.25 → 3.
    // Without border: (0.5 + 2.5)/2 = 1.5; with border 0.3: (3 + 0.9)/2 = 1.95.
    // Sample 1 (1 − m): same differences; edges: top 1+0+1 = 2, bottom 0.25+0+0.25 = 0.5, left 1+0.25, right 1+0.25 → 5 → (3 + 1.5)/2 = 2.25.
    const none = smoothnessLoss(m, 0);
    const withBorder = smoothnessLoss(m, 0.3);
    expect(arr(none)[0]).toBeCloseTo(1.5, 6);
    expect(arr(none)[1]).toBeCloseTo(1.5, 6);
    expect(arr(withBorder)[0]).toBeCloseTo(1.95, 6);
    expect(arr(withBorder)[1]).toBeCloseTo(2.25, 6);
    tf.dispose([m, none, withBorder]);
  });

  it('area: (mean(M) + ε)^p, or per pixel mean((M + ε)^p)', () => {
    const m = tf.tensor3d(M, [1, 2, 3]);
    const mean = 3 / 6;
    const a = areaLoss(m, 0.3, 0.0005);
    const b = areaLoss(m, 0.3, 0.0005, true);
    expect(arr(a)[0]).toBeCloseTo((mean + 0.0005) ** 0.3, 6);
    expect(arr(b)[0]).toBeCloseTo(M.reduce((s, v) => s + (v + 0.0005) ** 0.3, 0) / 6, 6);
    tf.dispose([m, a, b]);
  });

  it('preserver −log p_c and destroyer p_c^λ from logits', () => {
    const logits = tf.tensor2d([[1, 2, 3], [0, 0, 5]]);
    const cls = tf.tensor1d([0, 2], 'int32');
    const p = (row: number[], c: number) => Math.exp(row[c]) / row.reduce((s, v) => s + Math.exp(v), 0);
    const pres = preserverLoss(logits, cls);
    const dest = destroyerLoss(logits, cls, 0.3);
    expect(arr(pres)[0]).toBeCloseTo(-Math.log(p([1, 2, 3], 0)), 5);
    expect(arr(pres)[1]).toBeCloseTo(-Math.log(p([0, 0, 5], 2)), 5);
    expect(arr(dest)[0]).toBeCloseTo(p([1, 2, 3], 0) ** 0.3, 5);
    expect(arr(dest)[1]).toBeCloseTo(p([0, 0, 5], 2) ** 0.3, 5);
    // Finite where p underflows to 0 in float32, and so is its gradient.
    const far = tf.tensor2d([[-200, 200]]);
    const g = tf.grad((l: tf.Tensor) => tf.sum(destroyerLoss(l as tf.Tensor2D, tf.tensor1d([0], 'int32'), 0.3)))(far);
    expect(arr(g).every(Number.isFinite)).toBe(true);
    tf.dispose([logits, cls, pres, dest, far, g]);
  });

  it('exists: softplus(−z) for a real label, softplus(z) for a fake one', () => {
    const z = tf.tensor1d([2, 2, -1]);
    const real = tf.tensor1d([1, 0, 0]);
    const e = existsLoss(z, real);
    const sp = (x: number) => Math.log1p(Math.exp(x));
    expect(arr(e)).toEqual([sp(-2), sp(2), sp(-1)].map((v) => expect.closeTo(v, 5)));
    tf.dispose([z, real, e]);
  });

  it('fake label: only λ_tv·TV + λ_area·AR remain, and no gradient reaches the class terms', () => {
    const w = { ...MASKING_OBJECTIVE_DEFAULTS, tv: 0.5, area: 8, destroyer: 2 };
    const masks = tf.tensor3d([...M, ...M], [2, 2, 3]);
    const pl = tf.tensor2d([[1, 2], [1, 2]]);
    const dl = tf.tensor2d([[0, 3], [0, 3]]);
    const cls = tf.tensor1d([0, 0], 'int32');
    const real = tf.tensor1d([1, 0]);
    const terms = objectiveTerms(masks, pl, dl, cls, w);
    const per = arr(combineObjective(terms, real, w));
    const tv = arr(terms.tv)[0], area = arr(terms.area)[0];
    const pPres = Math.exp(1) / (Math.exp(1) + Math.exp(2));
    const pDest = 1 / (1 + Math.exp(3));
    expect(per[0]).toBeCloseTo(0.5 * tv + 8 * area - Math.log(pPres) + 2 * pDest ** 0.3, 4);
    expect(per[1]).toBeCloseTo(0.5 * tv + 8 * area, 5);
    const [gp, gd] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(combineObjective(objectiveTerms(masks, a as tf.Tensor2D, b as tf.Tensor2D, cls, w), real, w)))([pl, dl]);
    expect(arr(gp).slice(2).map(Math.abs)).toEqual([0, 0]); // the fake sample's logits get no gradient
    expect(arr(gd).slice(2).map(Math.abs)).toEqual([0, 0]);
    expect(Math.abs(arr(gp)[0])).toBeGreaterThan(0.1);
    tf.dispose([masks, pl, dl, cls, real, gp, gd, ...Object.values(terms)]);
  });

  it('maskedObjective composites x⊙M + A⊙(1−M) and 1−M in one pass, as a per-image reference loop', () => {
    const { classifier, model } = squareClassifier();
    const x = seeded([3, 32, 32, 1], 4) as tf.Tensor4D;
    const alt = seeded([3, 32, 32, 1], 5, 0.2, 0.6) as tf.Tensor4D;
    const masks = seeded([3, 32, 32], 6) as tf.Tensor3D;
    const cls = tf.tensor1d([0, 1, 0], 'int32');
    const real = tf.tensor1d([1, 1, 0]);
    const w = { ...MASKING_OBJECTIVE_DEFAULTS, tv: 0.01, destroyer: 1.5 };
    const before = tf.memory().numTensors;
    const got = maskedObjective(classifier, x, alt, masks, cls, real, w);
    const per = arr(got.perSample);
    tf.dispose([got.perSample, ...Object.values(got.terms)]);
    expect(tf.memory().numTensors).toBe(before);
    for (let i = 0; i < 3; i++) {
      const want = tf.tidy(() => {
        const xi = tf.slice(x, i, 1), ai = tf.slice(alt, i, 1);
        const mi = tf.reshape(tf.slice(masks, i, 1), [1, 32, 32, 1]);
        const keep = tf.add(tf.mul(xi, mi), tf.mul(ai, tf.sub(1, mi)));
        const drop = tf.add(tf.mul(xi, tf.sub(1, mi)), tf.mul(ai, mi));
        const pk = tf.softmax(model.predict(keep) as tf.Tensor2D).dataSync()[[0, 1, 0][i]];
        const pd = tf.softmax(model.predict(drop) as tf.Tensor2D).dataSync()[[0, 1, 0][i]];
        const m = tf.reshape(mi, [1, 32, 32]) as tf.Tensor3D;
        const tv = smoothnessLoss(m, w.border).dataSync()[0];
        const ar = (tf.mean(m).dataSync()[0] + w.areaEpsilon) ** w.areaPower;
        return w.tv * tv + w.area * ar + [1, 1, 0][i] * (-Math.log(pk) + w.destroyer * pd ** w.destroyerPower);
      });
      expect(per[i]).toBeCloseTo(want, 3);
    }
    tf.dispose([x, alt, masks, cls, real]);
    model.dispose();
  });
});

describe('decoder building blocks (against tfjs kernels)', () => {
  it('pixelShuffle2 equals tf.depthToSpace(x, 2)', () => {
    const x = seeded([2, 3, 4, 12], 1) as tf.Tensor4D;
    const a = pixelShuffle2(x);
    const b = tf.depthToSpace(x, 2);
    expect(a.shape).toEqual([2, 6, 8, 3]);
    expect(maxAbsDiff(a, b)).toBe(0);
    tf.dispose([x, a, b]);
  });

  it('conv2dIm2col equals tf.conv2d(…, "same") in value and in both gradients', () => {
    expect(tf.getBackend()).toBe('cpu'); // conv2dSame dispatches to conv2dIm2col here
    for (const k of [1, 3]) {
      const x = seeded([2, 5, 6, 3], 2, -1, 1) as tf.Tensor4D;
      const f = seeded([k, k, 3, 4], 3, -1, 1) as tf.Tensor4D;
      const y = seeded([2, 5, 6, 4], 4, -1, 1);
      expect(maxAbsDiff(conv2dIm2col(x, f), tf.conv2d(x, f, 1, 'same'))).toBeLessThan(1e-5);
      expect(maxAbsDiff(conv2dSame(x, f), conv2dIm2col(x, f))).toBe(0);
      const loss = (conv: (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor) => (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), y));
      const [gx, gf] = tf.grads(loss(conv2dIm2col))([x, f]);
      const [wx, wf] = tf.grads(loss((a, b) => tf.conv2d(a, b, 1, 'same')))([x, f]);
      expect(maxAbsDiff(gx, wx)).toBeLessThan(1e-4);
      expect(maxAbsDiff(gf, wf)).toBeLessThan(1e-4);
      tf.dispose([x, f, y, gx, gf, wx, wf]);
    }
  });

  it('resizeMasks equals tf.image.resizeBilinear (half-pixel centres), and its gradient matches finite differences', () => {
    const m = seeded([2, 5, 7], 7) as tf.Tensor3D;
    for (const size of [[13, 9], [3, 4], [5, 7]] as [number, number][]) {
      const t = resizeTables([5, 7], size);
      const got = resizeMasks(m, t);
      const want = tf.tidy(() => tf.squeeze(tf.image.resizeBilinear(tf.expandDims(m, 3) as tf.Tensor4D, size, false, true), [3]));
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
      tf.dispose([got, want, t.rx, t.ry]);
    }
    // Rows of the interpolation matrix sum to 1.
    const b = bilinearMatrix(4, 11);
    for (let j = 0; j < 11; j++) expect(b.slice(j * 4, j * 4 + 4).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
    // Gradient of Σ w·resize(m) against central differences (float64 in JS).
    const t = resizeTables([5, 7], [11, 9]);
    const wts = seeded([2, 11, 9], 8) as tf.Tensor3D;
    const f = (a: tf.Tensor3D) => tf.sum(tf.mul(resizeMasks(a, t), wts));
    const g = arr(tf.grad((a: tf.Tensor) => f(a as tf.Tensor3D))(m));
    const base = arr(m);
    for (const idx of [0, 6, 17, 34, 69]) {
      const plus = base.slice(); plus[idx] += 1e-2;
      const minus = base.slice(); minus[idx] -= 1e-2;
      const fp = tf.tidy(() => f(tf.tensor3d(plus, [2, 5, 7])).dataSync()[0]);
      const fm = tf.tidy(() => f(tf.tensor3d(minus, [2, 5, 7])).dataSync()[0]);
      expect(g[idx]).toBeCloseTo((fp - fm) / 2e-2, 3);
    }
    tf.dispose([m, wts, t.rx, t.ry]);
  });

  it('Adam: the first step moves every weight by exactly lr against the gradient sign; it converges on a quadratic', () => {
    const v = tf.variable(tf.tensor1d([0, 5, -2]));
    const adam = new Adam([v], { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
    const target = tf.tensor1d([3, 3, 3]);
    const step = () => {
      const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(tf.sub(v, target))) as tf.Scalar, [v]);
      adam.apply([grads[v.name]]);
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    expect(arr(v).map((x) => x.toFixed(5))).toEqual(['0.10000', '4.90000', '-1.90000']);
    for (let i = 0; i < 300; i++) step();
    expect(maxAbsDiff(v, target)).toBeLessThan(0.05);
    adam.dispose();
    tf.dispose([v, target]);
  });
});

describe('alternative images', () => {
  const x = seeded([2, 40, 40, 3], 11) as tf.Tensor4D;
  const range: [number, number] = [0, 255];

  it('blurred alternative = gaussianBlur(x, 55, σ 11); colour alternative = one colour in mid ± 0.33 half-ranges', () => {
    const noNoise = { ...ALTERNATIVE_DEFAULTS, imageNoise: 0, noiseStd: 0 };
    const xs = tf.mul(x, 255) as tf.Tensor4D;
    const blur = alternativeImages(xs, range, [1, 2], { ...noNoise, blurProbability: 1 });
    const want = gaussianBlur(xs, { kernelSize: 55, sigma: 11 });
    expect(maxAbsDiff(blur.alt, want)).toBeLessThan(1e-3);
    expect(maxAbsDiff(blur.images, xs)).toBe(0);
    const col = alternativeImages(xs, range, [3, 4], { ...noNoise, blurProbability: 0 });
    const v = arr(col.alt);
    for (let i = 0; i < 2; i++) {
      const d = alternativeDraw([3, 4][i], 3, noNoise);
      for (let c = 0; c < 3; c++) {
        const want = 127.5 + d.colour[c] * 127.5;
        expect(Math.abs(d.colour[c])).toBeLessThanOrEqual(0.33);
        expect(v[i * 4800 + 100 * 3 + c]).toBeCloseTo(want, 3);
        expect(v[i * 4800 + 1500 * 3 + c]).toBeCloseTo(want, 3);
      }
    }
    tf.dispose([xs, blur.images, blur.alt, want, col.images, col.alt]);
  });

  it('noise amplitudes are in half-ranges (σ 0.11 on the colour, 0.03 on the image); draws depend only on each sample\'s seed', () => {
    const xs = tf.mul(x, 255) as tf.Tensor4D;
    const a = alternativeImages(xs, range, [5, 6], { ...ALTERNATIVE_DEFAULTS, blurProbability: 0 });
    const sd = (t: tf.Tensor) => tf.tidy(() => Math.sqrt(tf.moments(t).variance.dataSync()[0]));
    const colourNoise = tf.tidy(() => tf.sub(a.alt, tf.mean(a.alt, [1, 2], true)));
    expect(sd(colourNoise)).toBeCloseTo(0.11 * 127.5, 0);
    expect(sd(tf.sub(a.images, xs))).toBeCloseTo(0.03 * 127.5, 0);
    // The same seeds give the same draws; a sample's draws do not depend on its batch.
    const b = alternativeImages(tf.slice(xs, 1, 1), range, [6], { ...ALTERNATIVE_DEFAULTS, blurProbability: 0 });
    expect(maxAbsDiff(tf.slice(a.alt, 1, 1), b.alt)).toBe(0);
    expect(maxAbsDiff(tf.slice(a.images, 1, 1), b.images)).toBe(0);
    tf.dispose([xs, a.images, a.alt, colourNoise, b.images, b.alt]);
  });
});
