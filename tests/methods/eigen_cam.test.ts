import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eigenCam, fromLayersModel, gradCam } from '@saliency/core';
import { seeded, useCpu } from '../setup_cpu';
import { faceSanity, type FaceSanity } from './perturbation_sanity';
import { arr, commonChecks, gapNet, minMax, randomisationRhos, tinyNet } from './new_method_fixtures';

beforeAll(useCpu);

/**
 * The reference written here: X (positions × channels, each channel's mean over positions
 * subtracted), its first right singular vector by power iteration on XᵀX in float64, the
 * projection X·v, the sign that correlates with the mean activation, ReLU, min-max.
 */
function reference(a: number[], n: number, k: number): number[] {
  const mean = Array.from({ length: k }, (_, c) => { let s = 0; for (let r = 0; r < n; r++) s += a[r * k + c]!; return s / n; });
  const x = a.map((v, i) => v - mean[i % k]!);
  const c2 = new Float64Array(k * k);
  for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) c2[i * k + j] += x[r * k + i]! * x[r * k + j]!;
  let v = Array.from({ length: k }, (_, i) => 1 + 0.1 * i);
  for (let it = 0; it < 20000; it++) {
    const w = v.map((_, i) => { let s = 0; for (let j = 0; j < k; j++) s += c2[i * k + j]! * v[j]!; return s; });
    const norm = Math.hypot(...w);
    v = w.map((e) => e / norm);
  }
  const p = Array.from({ length: n }, (_, r) => { let s = 0; for (let c = 0; c < k; c++) s += x[r * k + c]! * v[c]!; return s; });
  const m = Array.from({ length: n }, (_, r) => { let s = 0; for (let c = 0; c < k; c++) s += a[r * k + c]!; return s / k; });
  const pm = p.reduce((s, e) => s + e, 0) / n, mm = m.reduce((s, e) => s + e, 0) / n;
  const cov = p.reduce((s, e, r) => s + (e - pm) * (m[r]! - mm), 0);
  return minMax(p.map((e) => Math.max(0, cov < 0 ? -e : e)));
}

describe('eigenCam', () => {
  it('equals the projection on the first right singular vector (power iteration in the test) to 1e-4, per image', async () => {
    const model = gapNet(41);
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([2, 8, 8, 3], 5, -1, 1) as tf.Tensor4D;
    const a = classifier.at('feat').features(x); // [2, 8, 8, 5], full resolution: no up-sampling
    const acts = arr(a);
    const maps = await eigenCam({ layer: 'feat' }).explain(classifier, x, 0);
    const got = arr(maps);
    for (let i = 0; i < 2; i++) {
      const want = reference(acts.slice(i * 320, (i + 1) * 320), 64, 5);
      for (let r = 0; r < 64; r++) expect(Math.abs(got[i * 64 + r]! - want[r]!)).toBeLessThan(1e-4);
    }
    // Class-agnostic: another target gives the same map.
    const other = await eigenCam({ layer: 'feat' }).explain(classifier, x, 3);
    expect(arr(other)).toEqual(got);
    tf.dispose([a, maps, other, x]);
    model.dispose();
  });

  it('uses the positions side when there are more channels than positions (2×2 positions, 5 channels)', async () => {
    const model = gapNet(42);
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([1, 8, 8, 3], 6, -1, 1) as tf.Tensor4D;
    // A 2×2 feature map taken from the 8×8 one: fromFunction exposing the pooled activations.
    const { fromFunction } = await import('@saliency/core');
    const pooled = (xi: tf.Tensor4D) => tf.avgPool(classifier.at('feat').features(xi), 4, 4, 'valid') as tf.Tensor4D;
    const fc = model.getLayer('fc');
    const head = (f: tf.Tensor4D) => fc.apply(tf.mean(f, [1, 2])) as tf.Tensor2D;
    const small = fromFunction((xi) => head(pooled(xi)), {
      inputSize: [8, 8], channels: 3, numClasses: 4, preprocess: { inputRange: [0, 1] }, layers: { pooled: { features: pooled, head } },
    });
    const p = pooled(x);
    const want = reference(arr(p), 4, 5);
    // The method up-samples the 2×2 map to 8×8 (bilinear, half-pixel centres) before its min-max.
    const maps = await eigenCam({ layer: 'pooled' }).explain(small, x, 0);
    const up = tf.tidy(() => tf.squeeze(tf.image.resizeBilinear(tf.tensor4d(want, [1, 2, 2, 1]), [8, 8], false, true)));
    const wantUp = minMax(arr(up));
    const got = arr(maps);
    for (let r = 0; r < 64; r++) expect(Math.abs(got[r]! - wantUp[r]!)).toBeLessThan(1e-4);
    tf.dispose([p, maps, up, x]);
    model.dispose();
  });

  it('positions side with activations far from zero (per-channel offsets ~100): centred on the device, equal to the float64 reference', async () => {
    // The Gram of the raw activations is then ~1e4 × that of the centred ones, so centring it on the host
    // (J G J) would lose most digits to float32 rounding: trace(G) / trace(JGJ) exceeds the limit, and the
    // batch is redone with the activations centred first. (With the limit removed, this test fails.)
    const model = gapNet(43);
    const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const { fromFunction } = await import('@saliency/core');
    const offsets = tf.tensor1d([100, -80, 120, 95, -110]);
    const shifted = (xi: tf.Tensor4D) => tf.add(tf.avgPool(classifier.at('feat').features(xi), 4, 4, 'valid'), offsets) as tf.Tensor4D;
    const fc = model.getLayer('fc');
    const head = (f: tf.Tensor4D) => fc.apply(tf.mean(f, [1, 2])) as tf.Tensor2D;
    const small = fromFunction((xi) => head(shifted(xi)), {
      inputSize: [8, 8], channels: 3, numClasses: 4, preprocess: { inputRange: [0, 1] }, layers: { shifted: { features: shifted, head } },
    });
    const x = seeded([2, 8, 8, 3], 7, -1, 1) as tf.Tensor4D;
    const p = shifted(x);
    const acts = arr(p);
    const before = tf.memory().numTensors;
    const maps = await eigenCam({ layer: 'shifted' }).explain(small, x, 0);
    expect(tf.memory().numTensors).toBe(before + 1);
    const got = arr(maps);
    for (let i = 0; i < 2; i++) {
      const want = reference(acts.slice(i * 20, (i + 1) * 20), 4, 5);
      const up = tf.tidy(() => tf.squeeze(tf.image.resizeBilinear(tf.tensor4d(want, [1, 2, 2, 1]), [8, 8], false, true)));
      const wantUp = minMax(arr(up));
      for (let r = 0; r < 64; r++) expect(Math.abs(got[i * 64 + r]! - wantUp[r]!)).toBeLessThan(1e-4);
      up.dispose();
    }
    tf.dispose([p, maps, x, offsets]);
    model.dispose();
  });

  it('reports progress, aborts, survives a throwing model, and leaks nothing', async () => {
    await commonChecks((o) => eigenCam({ layer: 'feat', batchSize: 1, ...o }));
  });

  it("'top' costs no forward pass to find the class (one feature pass per batch); given classes are still checked", async () => {
    const net = tinyNet(7);
    const x = seeded([3, 8, 8, 3], 12, 0, 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const want = await eigenCam({ layer: 'feat' }).explain(net.classifier, x, 0);
    net.failAt(2); // the model's second call throws: only the feature pass may run
    const top = await eigenCam({ layer: 'feat' }).explain(net.classifier, x, 'top');
    expect(arr(top)).toEqual(arr(want));
    net.failAt(2); // Grad-CAM needs the top class (a full forward) first: the same budget fails it
    await expect(gradCam({ layer: 'feat' }).explain(net.classifier, x, 'top')).rejects.toThrow('simulated failure');
    net.failAt(null);
    await expect(eigenCam({ layer: 'feat' }).explain(net.classifier, x, 7)).rejects.toMatchObject({ code: 'BAD_TARGET' });
    tf.dispose([want, top]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    net.dispose();
  });
});

describe('eigenCam model-randomisation sanity check on the real face model, wasm', () => {
  let sanity: FaceSanity;
  beforeAll(async () => { sanity = await faceSanity(); });
  afterAll(() => sanity?.dispose());

  it('re-initialising fc and dense3 changes the map (ρ logged with the verdict)', async () => {
    const { rhos, trained } = await randomisationRhos(sanity, 'Eigen-CAM', () => eigenCam({ layer: 'dense3' }));
    expect(trained.some((v) => v !== trained[0])).toBe(true);
    for (const r of rhos) expect(r).toBeLessThan(0.95);
  });
});
