// LayerAccess.reduced: the head split after a per-channel reduction over space. Checked against the
// whole head (`head(f, x)`) on arbitrary activations, and against zeroing a channel BEFORE the
// reduction (what Ablation-CAM needs); offered only where the split is exact.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ablationCam, fromFunction, fromLayersModel, type LayerAccess } from '@saliency/core';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';

beforeAll(useCpu);

const init = (seed: number) => tfl.initializers.randomNormal({ seed, stddev: 0.5 });
type Sym = tfl.SymbolicTensor;
const conv = (name: string, filters: number, seed: number, activation: 'relu' | 'linear' = 'relu') =>
  tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation, name, kernelInitializer: init(seed) });

/** c → feat (linear) → ReLU → 4×4 average pool (global on 4×4) → flatten → dropout → dense relu → dense softmax. */
function pooledNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [4, 4, 2] });
  let h = conv('c', 5, 1).apply(input) as Sym;
  h = conv('feat', 6, 2, 'linear').apply(h) as Sym;
  h = tfl.layers.reLU({ name: 'r' }).apply(h) as Sym;
  h = tfl.layers.averagePooling2d({ poolSize: 4, name: 'pool' }).apply(h) as Sym;
  h = tfl.layers.flatten({ name: 'flat' }).apply(h) as Sym;
  h = tfl.layers.dropout({ rate: 0.5, name: 'drop' }).apply(h) as Sym;
  h = tfl.layers.dense({ units: 7, activation: 'relu', name: 'fc1', kernelInitializer: init(3) }).apply(h) as Sym;
  const out = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'fc2', kernelInitializer: init(4) }).apply(h) as Sym;
  return tfl.model({ inputs: input, outputs: out });
}

/** feat → `between` → GAP → dense: `between` decides whether the split is exact. */
function netWith(between: (h: Sym) => Sym): tfl.LayersModel {
  const input = tfl.input({ shape: [4, 4, 2] });
  let h = conv('feat', 6, 2).apply(input) as Sym;
  h = between(h);
  h = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(h) as Sym;
  const out = tfl.layers.dense({ units: 3, name: 'fc', kernelInitializer: init(4) }).apply(h) as Sym;
  return tfl.model({ inputs: input, outputs: out });
}

/** feat → GAP, concatenated with a GAP of the input itself → dense: the input skips past the layer. */
function inputSkipNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [4, 4, 2] });
  const f = tfl.layers.globalAveragePooling2d({ name: 'gap_f' }).apply(conv('feat', 6, 2).apply(input) as Sym) as Sym;
  const i = tfl.layers.globalAveragePooling2d({ name: 'gap_x' }).apply(input) as Sym;
  const both = tfl.layers.concatenate({ name: 'cat' }).apply([f, i]) as Sym;
  const out = tfl.layers.dense({ units: 3, name: 'fc', kernelInitializer: init(4) }).apply(both) as Sym;
  return tfl.model({ inputs: input, outputs: out });
}

/** feat read by two layers (global average and global max pooling). */
function twoReadersNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [4, 4, 2] });
  const f = conv('feat', 6, 2).apply(input) as Sym;
  const a = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(f) as Sym;
  const m = tfl.layers.globalMaxPooling2d({ name: 'gmp' }).apply(f) as Sym;
  const out = tfl.layers.dense({ units: 3, name: 'fc', kernelInitializer: init(4) }).apply(tfl.layers.add({}).apply([a, m]) as Sym) as Sym;
  return tfl.model({ inputs: input, outputs: out });
}

/** Zeroes channel j of `[n, h, w, k]`. */
function ablate(f: tf.Tensor4D, j: number): tf.Tensor4D {
  const k = f.shape[3];
  return tf.mul(f, tf.tensor1d(Array.from({ length: k }, (_, i) => (i === j ? 0 : 1)))) as tf.Tensor4D;
}

/** reduce ∘ rest = head, and zeroing channel j before the reduction = zeroing column j after it, for every j. */
function expectExactSplit(access: LayerAccess, f: tf.Tensor4D, x: tf.Tensor4D): void {
  const reduced = access.reduced;
  expect(reduced).toBeDefined();
  if (reduced == null) return;
  const before = tf.memory().numTensors;
  const r = reduced.reduce(f);
  expect(r.shape).toEqual([f.shape[0], f.shape[3]]);
  const whole = access.head(f, x);
  const split = reduced.rest(r);
  expect(tf.memory().numTensors).toBe(before + 3);
  expect(maxAbsDiff(split, whole)).toBeLessThan(1e-6);
  for (let j = 0; j < f.shape[3]; j++) {
    tf.tidy(() => {
      const rj = reduced.reduce(ablate(f, j));
      const col = Array.from(tf.slice(rj, [0, j], [-1, 1]).dataSync());
      expect(col.every((v) => v === 0)).toBe(true);
      const zeroedAfter = tf.mul(r, tf.tensor1d(Array.from({ length: f.shape[3] }, (_, i) => (i === j ? 0 : 1)))) as tf.Tensor2D;
      expect(maxAbsDiff(reduced.rest(zeroedAfter), access.head(ablate(f, j), x))).toBeLessThan(1e-6);
    });
  }
  tf.dispose([r, whole, split]);
}

describe('LayerAccess.reduced (fromLayersModel)', () => {
  it('ReLU → average pool → flatten → dropout: an exact split, logits with the softmax stripped or given as log-probabilities', () => {
    const model = pooledNet();
    const x = seeded([2, 4, 4, 2], 11) as tf.Tensor4D;
    // Activations of any sign, not only the model's own: the split must hold for every input.
    const f = seeded([2, 4, 4, 6], 12, -1, 1) as tf.Tensor4D;
    for (const outputs of ['auto', 'probabilities'] as const) {
      const c = fromLayersModel(model, { preprocess: { inputRange: [0, 1] }, outputs });
      expectExactSplit(c.at('feat'), f, x);
    }
    expect(fromLayersModel(model).at('c').reduced).toBeUndefined(); // a convolution follows 'c'
    tf.dispose([x, f]);
    model.dispose();
  });

  it('zero-preserving activations keep the split; sigmoid (σ(0) = ½) and a per-channel bias-free but spatial op do not', () => {
    const x = seeded([1, 4, 4, 2], 13) as tf.Tensor4D;
    const f = seeded([1, 4, 4, 6], 14, -1, 1) as tf.Tensor4D;
    const tanh = netWith((h) => tfl.layers.activation({ activation: 'tanh' }).apply(h) as Sym);
    expectExactSplit(fromLayersModel(tanh).at('feat'), f, x);
    const sigmoid = netWith((h) => tfl.layers.activation({ activation: 'sigmoid' }).apply(h) as Sym);
    expect(fromLayersModel(sigmoid).at('feat').reduced).toBeUndefined();
    const mixing = netWith((h) => tfl.layers.conv2d({ filters: 6, kernelSize: 1, kernelInitializer: init(9) }).apply(h) as Sym);
    expect(fromLayersModel(mixing).at('feat').reduced).toBeUndefined();
    // A 2×2 pool on 4×4 leaves space, and the flatten after it would mix channels into positions.
    const input = tfl.input({ shape: [4, 4, 2] });
    let h = conv('feat', 6, 2).apply(input) as Sym;
    h = tfl.layers.averagePooling2d({ poolSize: 2 }).apply(h) as Sym;
    h = tfl.layers.flatten({}).apply(h) as Sym;
    const partial = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3, kernelInitializer: init(4) }).apply(h) as Sym });
    expect(fromLayersModel(partial).at('feat').reduced).toBeUndefined();
    for (const m of [tanh, sigmoid, mixing, partial]) m.dispose();
    tf.dispose([x, f]);
  });

  it('is absent when the input reaches the output past the layer, or the layer has a second reader', () => {
    const skip = inputSkipNet();
    const two = twoReadersNet();
    expect(fromLayersModel(skip).at('feat').reduced).toBeUndefined();
    expect(fromLayersModel(two).at('feat').reduced).toBeUndefined();
    skip.dispose();
    two.dispose();
  });
});

describe('LayerAccess.reduced (fromFunction)', () => {
  const W = () => seeded([4, 3], 21, -1, 1) as tf.Tensor2D;
  const features = (x: tf.Tensor4D) => tf.relu(tf.conv2d(x, tf.sub(seeded([3, 3, 2, 4], 22), 0.5) as tf.Tensor4D, 1, 'same')) as tf.Tensor4D;

  it('is passed through, checked, and gives Ablation-CAM the map of the whole head', async () => {
    const w = W();
    const head = (f: tf.Tensor4D) => tf.matMul(tf.mean(f, [1, 2]) as tf.Tensor2D, w) as tf.Tensor2D;
    const opts = { inputSize: [6, 6] as const, channels: 2, numClasses: 3, preprocess: { inputRange: [0, 1] as const } };
    const plain = fromFunction((x) => head(features(x)), { ...opts, layers: { feat: { features, head } } });
    const split = fromFunction((x) => head(features(x)), {
      ...opts, layers: { feat: { features, head, reduced: { reduce: (f) => tf.mean(f, [1, 2]) as tf.Tensor2D, rest: (r) => tf.matMul(r, w) } } },
    });
    expect(plain.at('feat').reduced).toBeUndefined();
    const x = seeded([2, 6, 6, 2], 23) as tf.Tensor4D;
    const f = seeded([2, 6, 6, 4], 24, -1, 1) as tf.Tensor4D;
    expectExactSplit(split.at('feat'), f, x);
    const before = tf.memory().numTensors;
    const a = await ablationCam({ layer: 'feat' }).explain(plain, x, [0, 2]);
    const b = await ablationCam({ layer: 'feat' }).explain(split, x, [0, 2]);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, f, w]);
  });

  it('a reduce that does not give [N, k] is a coded BAD_RANK, with nothing left behind', async () => {
    const w = W();
    const bad = fromFunction((x) => tf.matMul(tf.mean(features(x), [1, 2]) as tf.Tensor2D, w), {
      inputSize: [6, 6], channels: 2, numClasses: 3, preprocess: { inputRange: [0, 1] },
      layers: { feat: { features, head: (f) => tf.matMul(tf.mean(f, [1, 2]) as tf.Tensor2D, w), reduced: { reduce: (f) => tf.mean(f, [1]) as unknown as tf.Tensor2D, rest: (r) => tf.matMul(r, w) } } },
    });
    const x = seeded([1, 6, 6, 2], 25) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    await expect(ablationCam({ layer: 'feat' }).explain(bad, x, [0])).rejects.toMatchObject({ code: 'BAD_RANK' });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w]);
  });
});
