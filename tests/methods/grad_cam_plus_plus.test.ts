import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradCamPlusPlus } from '@saliency/core';
import { useCpu } from '../setup_cpu';
import { faceSanity, type FaceSanity } from './perturbation_sanity';
import { A_2X2X2, LINEAR_HEAD_B, LINEAR_HEAD_V, arr, commonChecks, linearHead2x2, minMax, randomisationRhos } from './new_method_fixtures';

beforeAll(useCpu);

/**
 * Grad-CAM++ by hand (Chattopadhyay et al. 2018, Eq. 19 with Y = exp(S)) on a 2×2×2 feature map
 * with a linear head, where g = ∂S/∂A = V[c]: α_ij^k = g² / (2g² + Σ_ab A_ab^k g³),
 * w_k = Σ_ij α_ij^k · ReLU(exp(S)·g_ij^k), map = min-max(ReLU(Σ_k w_k A^k)). The exp(S) factor is
 * kept here: it is one positive number per image, which the min-max removes.
 */
function byHand(c: number): number[] {
  const g = LINEAR_HEAD_V[c]!;
  let s = LINEAR_HEAD_B[c]!;
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 2; k++) s += g[i]![j]![k]! * A_2X2X2[i]![j]![k]!;
  const ey = Math.exp(s);
  const w = [0, 1].map((k) => {
    let sumA = 0;
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) sumA += A_2X2X2[i]![j]![k]!;
    let wk = 0;
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) {
        const gij = g[i]![j]![k]!;
        const den = 2 * gij ** 2 + sumA * gij ** 3;
        const alpha = den === 0 ? 0 : gij ** 2 / den;
        wk += alpha * Math.max(0, ey * gij);
      }
    }
    return wk;
  });
  const cam: number[] = [];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) cam.push(Math.max(0, w[0]! * A_2X2X2[i]![j]![0]! + w[1]! * A_2X2X2[i]![j]![1]!));
  return minMax(cam);
}

describe('gradCamPlusPlus', () => {
  it('equals the closed form (Eq. 19) computed by hand on a 2×2×2 feature map with a linear head', async () => {
    const { classifier, dispose } = linearHead2x2();
    const x = tf.tensor4d(A_2X2X2.flat(2), [1, 2, 2, 2]);
    for (const c of [0, 1]) {
      const want = byHand(c);
      expect(Math.max(...want)).toBe(1);
      expect(want.some((v) => v > 0 && v < 1)).toBe(true); // not a trivial map
      const map = await gradCamPlusPlus({ layer: 'feat' }).explain(classifier, x, c);
      const got = arr(map);
      for (let i = 0; i < 4; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
      map.dispose();
    }
    x.dispose();
    dispose();
  });

  it('reports progress, aborts, survives a throwing model, and leaks nothing', async () => {
    await commonChecks((o) => gradCamPlusPlus({ layer: 'feat', batchSize: 1, ...o }));
  });
});

describe('gradCamPlusPlus model-randomisation sanity check on the real face model, wasm', () => {
  let sanity: FaceSanity;
  beforeAll(async () => { sanity = await faceSanity(); });
  afterAll(() => sanity?.dispose());

  it('re-initialising fc and dense3 changes the map (ρ logged with the verdict)', async () => {
    const { rhos, trained } = await randomisationRhos(sanity, 'Grad-CAM++', () => gradCamPlusPlus({ layer: 'dense3' }));
    expect(trained.some((v) => v !== trained[0])).toBe(true);
    for (const r of rhos) expect(r).toBeLessThan(0.9);
  });
});
