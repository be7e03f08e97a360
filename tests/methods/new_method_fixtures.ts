/**
 * Fixtures shared by the tests of the methods of issue 17: a tiny conv net written with tf ops
 * (exposed through fromFunction with one CAM layer) that can be told to throw part-way, and the
 * leak / abort / progress checks every new method runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';
import { fromFunction, type Classifier, type Progress, type SaliencyMethod } from '@saliency/core';
import { seeded } from '../setup_cpu';
import { median, rankCorrelation, type FaceSanity } from './perturbation_sanity';

/** A small conv net 8×8×3 → conv3×3 (6, ReLU) = 'feat' → conv3×3 (5, ReLU) → GAP → dense 3; `failAt` makes the N-th model call throw. */
export function tinyNet(seed = 1): { classifier: Classifier; failAt(n: number | null): void; dispose(): void } {
  const k1 = tf.mul(seeded([3, 3, 3, 6], seed, -1, 1), 0.6) as tf.Tensor4D;
  const b1 = seeded([6], seed + 1, -0.1, 0.3) as tf.Tensor1D;
  const k2 = tf.mul(seeded([3, 3, 6, 5], seed + 2, -1, 1), 0.5) as tf.Tensor4D;
  const w = seeded([5, 3], seed + 3, -1, 1) as tf.Tensor2D;
  let calls = 0;
  let failAt: number | null = null;
  const tick = () => {
    calls++;
    if (failAt != null && calls >= failAt) throw new Error('tiny net: simulated failure');
  };
  const features = (x: tf.Tensor4D) => {
    tick();
    return tf.relu(tf.add(tf.conv2d(x, k1, 1, 'same'), b1)) as tf.Tensor4D;
  };
  const head = (a: tf.Tensor4D): tf.Tensor2D => {
    tick();
    return tf.matMul(tf.mean(tf.relu(tf.conv2d(a, k2, 1, 'same')), [1, 2]) as tf.Tensor2D, w);
  };
  const classifier = fromFunction((x) => head(features(x)), {
    inputSize: [8, 8], channels: 3, numClasses: 3, preprocess: { inputRange: [0, 1] },
    layers: { feat: { features, head: (a) => head(a) } },
  });
  return {
    classifier,
    failAt(n) { calls = 0; failAt = n; },
    dispose() { tf.dispose([k1, b1, k2, w]); },
  };
}

/**
 * Runs the shared checks on `make`: the maps are [N, H, W] in [0, 1] and not constant; progress
 * reaches its total; a signal aborted from the first progress report rejects with ABORTED; a
 * model that throws part-way rejects; none of it leaves tensors behind.
 */
export async function commonChecks(make: (o: { onProgress?: (p: Progress) => void; signal?: AbortSignal }) => SaliencyMethod, failAfterCalls = 2): Promise<void> {
  const net = tinyNet(5);
  const x = seeded([2, 8, 8, 3], 77) as tf.Tensor4D;
  try {
    const before = tf.memory().numTensors;
    const seen: Progress[] = [];
    const maps = await make({ onProgress: (p) => seen.push(p) }).explain(net.classifier, x, [0, 2]);
    expect(maps.shape).toEqual([2, 8, 8]);
    const v = await maps.data();
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeCloseTo(1, 5);
    maps.dispose();
    expect(seen.length).toBeGreaterThan(0);
    const last = seen[seen.length - 1]!;
    expect(last.done).toBe(last.total);
    expect(tf.memory().numTensors).toBe(before);

    const ctl = new AbortController();
    await expect(make({ signal: ctl.signal, onProgress: () => ctl.abort() }).explain(net.classifier, x, [0, 2])).rejects.toMatchObject({ code: 'ABORTED' });
    expect(tf.memory().numTensors).toBe(before);

    net.failAt(failAfterCalls);
    await expect(make({}).explain(net.classifier, x, [0, 2])).rejects.toThrow(/simulated failure/);
    net.failAt(null);
    expect(tf.memory().numTensors).toBe(before);
  } finally {
    x.dispose();
    net.dispose();
  }
}

/** Reads a tensor back as a plain array. */
export function arr(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** min-max of a JS array, constant → zeros. */
export function minMax(v: readonly number[]): number[] {
  const lo = Math.min(...v), hi = Math.max(...v);
  return v.map((e) => (hi > lo ? (e - lo) / (hi - lo) : 0));
}

/**
 * A classifier on 2×2 images with 2 channels whose layer 'feat' IS the input (A = x, a 2×2×2
 * feature map) and whose head is linear: S_c = Σ_ijk V[c][i][j][k]·A_ijk + b_c. So ∂S_c/∂A = V[c]
 * everywhere, and hand computations of the CAM formulas are exact.
 */
export const LINEAR_HEAD_V = [
  [[[0.8, -0.3], [0.5, 0.2]], [[-0.6, 0.9], [0.1, -0.4]]],
  [[[-0.2, 0.7], [0.3, -0.5]], [[0.4, 0.6], [-0.9, 0.25]]],
];
/** The head's biases. */
export const LINEAR_HEAD_B = [0.3, -0.2];

/** The 2×2×2 classifier of {@link LINEAR_HEAD_V}. */
export function linearHead2x2(): { classifier: Classifier; dispose(): void } {
  const v = tf.tensor2d(LINEAR_HEAD_V.map((c) => c.flat(2)), [2, 8]);
  const b = tf.tensor1d(LINEAR_HEAD_B);
  const head = (a: tf.Tensor4D) => tf.add(tf.matMul(tf.reshape(a, [-1, 8]), v, false, true), b) as tf.Tensor2D;
  const classifier = fromFunction((x) => head(x), {
    inputSize: [2, 2], channels: 2, numClasses: 2, preprocess: { inputRange: [0, 1] },
    layers: { feat: { features: (x) => tf.clone(x), head: (a) => head(a) } },
  });
  return { classifier, dispose: () => tf.dispose([v, b]) };
}

/** The image (= feature map) A[i][j][k] used with {@link linearHead2x2}. */
export const A_2X2X2 = [[[0.9, 0.2], [0.4, 1.3]], [[0.1, 0.7], [1.1, 0.5]]];

/**
 * Model-randomisation sanity check (Adebayo et al.) of a method on the face model (see
 * perturbation_sanity.ts): Spearman ρ between the trained model's map and each randomised copy's,
 * logged with the verdict for the < 0.5 criterion; no tensors leak.
 */
export async function randomisationRhos(sanity: FaceSanity, label: string, make: () => SaliencyMethod): Promise<{ rhos: number[]; trained: Float32Array }> {
  const before = tf.memory().numTensors;
  const trained = await sanity.map(make(), 'trained');
  const rhos: number[] = [];
  for (let i = 0; i < sanity.seeds.length; i++) rhos.push(rankCorrelation(trained, await sanity.map(make(), i)));
  expect(tf.memory().numTensors).toBe(before);
  const med = median(rhos);
  console.log(`${label} on the face model: Spearman ρ(trained, randomised) = ${rhos.map((r) => r.toFixed(3)).join(', ')} (copies ${sanity.seeds.join(', ')}); median ${med.toFixed(3)} — ${med < 0.5 ? 'passes' : 'FAILS'} the < 0.5 criterion`);
  return { rhos, trained };
}

/** conv 'feat' (full resolution, ReLU, 5 channels) → GAP → dense 4: the net on which Grad-CAM equals CAM. */
export function gapNet(seed: number): tfl.LayersModel {
  const input = tfl.input({ shape: [8, 8, 3] });
  const feat = tfl.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', name: 'feat', kernelInitializer: tfl.initializers.randomNormal({ seed }) }).apply(input) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(feat) as tfl.SymbolicTensor;
  const fc = tfl.layers.dense({ units: 4, name: 'fc', kernelInitializer: tfl.initializers.randomNormal({ seed: seed + 1 }), biasInitializer: 'ones' }).apply(gap) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: fc });
}

/** conv (stride 2) → conv 'c2' → conv 'c3' → GAP → dense 3: a head with convolutions after the CAM layer. */
export function stridedNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 3] });
  let h = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: tfl.initializers.randomNormal({ seed: 3, stddev: 0.5 }) }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c2', kernelInitializer: tfl.initializers.randomNormal({ seed: 4, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c3', kernelInitializer: tfl.initializers.randomNormal({ seed: 6, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.randomNormal({ seed: 5, stddev: 0.5 }) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}
