import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFunction, fromGraphModel, fromLayersModel, minMaxNormalize, vanillaGradient, SaliencyError, type SaliencyMethod } from '@saliency/core';
import { FACE_EXPRESSION_CLASSES, FACE_EXPRESSION_MEAN } from '@saliency/models';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionModel, loadNsfwMobileNetV2Mid, sampleFaces } from '@saliency/models';
import { guidedBackprop, guidedGradient } from '@saliency/methods';
import { GUIDED_KERNELS, withGuidedRelu } from '@saliency/methods';
import { logitGradient } from '@saliency/methods';
import { maxAbsDiff, rng, seeded, useCpu } from '../setup_cpu';

beforeAll(useCpu);

const H = 2, W = 3, C = 2, D = H * W * C, H1 = 6, H2 = 5, K = 4;

/** Seeded JS matrix `rows × cols` with entries in [lo, hi). */
function matrix(rows: number, cols: number, seed: number, lo: number, hi: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => lo + (hi - lo) * r()));
}

const W1 = matrix(D, H1, 1, -1, 1);
const B1 = matrix(1, H1, 2, -0.5, 0.5)[0];
const W2 = matrix(H1, H2, 3, -3, 3);
const B2 = matrix(1, H2, 4, 1, 5)[0];
const W3 = matrix(H2, K, 5, -1, 1);

/**
 * The two-layer ReLU net by hand: z1 = x·W1 + b1, a1 = relu(z1), z2 = a1·W2 + b2,
 * a2 = relu6(z2), logits = a2·W3; and its input gradient for class c, plain or
 * guided (a ReLU passes gradient only where its input is > 0 (and ≤ 6 for ReLU6)
 * AND, when guided, the incoming gradient is > 0).
 */
function handGradient(x: number[], c: number, guided: boolean) {
  const z1 = B1.map((b, j) => b + x.reduce((s, xi, i) => s + xi * W1[i][j], 0));
  const a1 = z1.map((v) => Math.max(0, v));
  const z2 = B2.map((b, k) => b + a1.reduce((s, v, j) => s + v * W2[j][k], 0));
  const gA2 = W3.map((row) => row[c]);
  const gZ2 = gA2.map((g, k) => (z2[k] > 0 && z2[k] <= 6 && (!guided || g > 0) ? g : 0));
  const gA1 = W2.map((row) => row.reduce((s, w, k) => s + w * gZ2[k], 0));
  const gZ1 = gA1.map((g, j) => (z1[j] > 0 && (!guided || g > 0) ? g : 0));
  const gX = W1.map((row) => row.reduce((s, w, j) => s + w * gZ1[j], 0));
  return { gX, z1, z2, gA1, gA2 };
}

const tensor2 = (m: number[][]) => tf.tensor2d(m);

/** The net written with tfjs's FUSED ops: matMul + bias + relu / relu6 in one op each. */
function fusedNet() {
  const w1 = tensor2(W1), b1 = tf.tensor1d(B1), w2 = tensor2(W2), b2 = tf.tensor1d(B2), w3 = tensor2(W3);
  const classifier = fromFunction((x) => {
    const flat = tf.reshape(x, [-1, D]) as tf.Tensor2D;
    const a1 = tf.fused.matMul({ a: flat, b: w1, bias: b1, activation: 'relu' });
    const a2 = tf.fused.matMul({ a: a1, b: w2, bias: b2, activation: 'relu6' });
    return tf.matMul(a2, w3);
  }, { inputSize: [H, W], channels: C, numClasses: K, preprocess: { inputRange: [0, 1] } });
  return { classifier, dispose: () => tf.dispose([w1, b1, w2, b2, w3]) };
}

/** The same net as a layers model: Dense(relu) → Dense → ReLU(maxValue 6) → Dense. */
function layersNet() {
  const model = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [H, W, C] }),
      tfl.layers.dense({ units: H1, activation: 'relu' }),
      tfl.layers.dense({ units: H2 }),
      tfl.layers.reLU({ maxValue: 6 }),
      tfl.layers.dense({ units: K, useBias: false }),
    ],
  });
  model.layers[1].setWeights([tensor2(W1), tf.tensor1d(B1)]);
  model.layers[2].setWeights([tensor2(W2), tf.tensor1d(B2)]);
  model.layers[4].setWeights([tensor2(W3)]);
  return model;
}

const registry = () => [...GUIDED_KERNELS, 'Minimum', 'ClipByValue', 'MatMul', 'Conv2D'].map((k) => tf.getGradient(k));

function expectRegistry(before: ReturnType<typeof registry>) {
  const after = registry();
  before.forEach((cfg, i) => expect(after[i]).toBe(cfg));
}

describe('guided backprop: the hand-computed guided gradient of a two-layer ReLU/ReLU6 net', () => {
  const N = 6;
  const images = () => seeded([N, H, W, C], 17, 0, 1) as tf.Tensor4D;
  const targets = [0, 1, 2, 3, 1, 2];

  function handAll(x: tf.Tensor4D, guided: boolean) {
    const xs = Array.from(x.dataSync());
    return targets.map((c, n) => handGradient(xs.slice(n * D, (n + 1) * D), c, guided));
  }

  it('the test net exercises every branch: ReLU off, ReLU on with negative gradient, ReLU6 above 6, negative top gradient', () => {
    const x = images();
    const hand = handAll(x, true);
    expect(hand.some((h) => h.z1.some((v) => v <= 0))).toBe(true);
    expect(hand.some((h) => h.z1.some((v, j) => v > 0 && h.gA1[j] < 0))).toBe(true);
    expect(hand.some((h) => h.z2.some((v) => v > 6))).toBe(true);
    expect(hand.some((h) => h.z2.some((v, k) => v > 0 && v <= 6 && h.gA2[k] < 0))).toBe(true);
    x.dispose();
  });

  it.each([
    ['fused ops (tf.fused.matMul with relu / relu6 activations)', () => { const n = fusedNet(); return { c: n.classifier, dispose: n.dispose }; }],
    ['a layers model (Dense relu, ReLU layer with maxValue 6)', () => { const m = layersNet(); return { c: fromLayersModel(m, { preprocess: { inputRange: [0, 1] } }), dispose: () => m.dispose() }; }],
  ])('%s: raw guided gradient equals the hand computation, and differs from the plain gradient', (_, make) => {
    const { c, dispose } = make();
    const x = images();
    const before = tf.memory().numTensors;
    const guided = guidedGradient(c)(x, targets);
    const plain = logitGradient(c)(x, targets);
    expect(tf.memory().numTensors).toBe(before + 2);
    const wantGuided = tf.tensor4d(handAll(x, true).flatMap((h) => h.gX), [N, H, W, C]);
    const wantPlain = tf.tensor4d(handAll(x, false).flatMap((h) => h.gX), [N, H, W, C]);
    expect(maxAbsDiff(guided, wantGuided)).toBeLessThan(1e-5);
    expect(maxAbsDiff(plain, wantPlain)).toBeLessThan(1e-5);
    expect(maxAbsDiff(wantGuided, wantPlain)).toBeGreaterThan(0.1);
    tf.dispose([guided, plain, wantGuided, wantPlain, x]);
    dispose();
  });

  it.each(['maxAbs', 'absSum', 'signed'] as const)('guidedBackprop({ aggregate: %s }) is the hand gradient aggregated and min-max normalised, batched or not', async (aggregate) => {
    const { classifier, dispose } = fusedNet();
    const x = images();
    const want = tf.tidy(() => {
      const g = tf.tensor4d(handAll(x, true).flatMap((h) => h.gX), [N, H, W, C]);
      const per = aggregate === 'maxAbs' ? tf.max(tf.abs(g), -1) : aggregate === 'absSum' ? tf.sum(tf.abs(g), -1) : tf.sum(g, -1);
      return minMaxNormalize(per as tf.Tensor3D);
    });
    const before = tf.memory().numTensors;
    for (const batchSize of [1, 4, 16]) {
      const maps = await guidedBackprop({ aggregate, batchSize }).explain(classifier, x, targets);
      expect(maps.shape).toEqual([N, H, W]);
      expect(maxAbsDiff(maps, want)).toBeLessThan(1e-5);
      maps.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, want]);
    dispose();
  });
});

describe('guided backprop through fused conv2d with a relu activation (layers Conv2D) and a ReLU(6) layer', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(['cpu', 'wasm'])('equals the guided gradient written with explicit conv / transposed-conv ops (%s)', async (backend) => {
    if (backend === 'wasm') expect((await initBackend({ prefer: 'wasm', quiet: true })).name).toBe('wasm');
    else await tf.setBackend('cpu');
    const input = tfl.input({ shape: [6, 5, 3] });
    const conv1 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.randomNormal({ seed: 1, stddev: 0.6 }), biasInitializer: tfl.initializers.randomNormal({ seed: 2, stddev: 0.3 }) });
    const conv2 = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: tfl.initializers.randomNormal({ seed: 3, stddev: 1.5 }), biasInitializer: tfl.initializers.constant({ value: 1 }) });
    const dense = tfl.layers.dense({ units: 2, useBias: false, kernelInitializer: tfl.initializers.randomNormal({ seed: 4 }) });
    let h = conv1.apply(input) as tfl.SymbolicTensor;
    h = conv2.apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.reLU({ maxValue: 6 }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.flatten().apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: dense.apply(h) as tfl.SymbolicTensor });
    const c = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([2, 6, 5, 3], 9, 0, 1) as tf.Tensor4D;
    const targets = [0, 1];
    let got: tf.Tensor4D | null = null;
    const profile = await tf.profile(() => { got = guidedGradient(c)(x, targets); return got; });
    // On wasm the guided relu gradient is one private SIMD pass (FAST_BACKWARD_KERNELS.guidedReluGrad), elsewhere tfjs ops.
    const onePass = profile.kernels.filter((k) => k.name === '_SaliencyGuidedReluGrad').length;
    expect(onePass).toBe(backend === 'wasm' ? 2 : 0); // conv1's relu and the ReLU(6) layer's relu
    const want = tf.tidy(() => {
      const [k1, b1] = conv1.getWeights() as [tf.Tensor4D, tf.Tensor1D];
      const [k2, b2] = conv2.getWeights() as [tf.Tensor4D, tf.Tensor1D];
      const [wd] = dense.getWeights() as [tf.Tensor2D];
      const z1 = tf.add(tf.conv2d(x, k1, 1, 'same'), b1) as tf.Tensor4D;
      const a1 = tf.relu(z1);
      const z2 = tf.add(tf.conv2d(a1, k2, 1, 'same'), b2) as tf.Tensor4D;
      // d logit_{t_n} / d a2, per image: the dense column of its target, reshaped.
      const gA2 = tf.stack(targets.map((t) => tf.reshape(tf.slice(wd, [0, t], [-1, 1]), [6, 5, 3]))) as tf.Tensor4D;
      const on = (z: tf.Tensor, g: tf.Tensor, top?: number) => {
        let m = tf.mul(tf.cast(tf.greater(z, 0), 'float32'), tf.cast(tf.greater(g, 0), 'float32'));
        if (top != null) m = tf.mul(m, tf.cast(tf.lessEqual(z, top), 'float32'));
        return tf.mul(g, m);
      };
      const gZ2 = on(z2, gA2, 6) as tf.Tensor4D;
      const gA1 = tf.conv2dTranspose(gZ2, k2, a1.shape as [number, number, number, number], 1, 'same');
      const gZ1 = on(z1, gA1) as tf.Tensor4D;
      const gX = tf.conv2dTranspose(gZ1, k1, x.shape, 1, 'same');
      // The case analysis is exercised: some units are clipped at 6 and some gradients are negative.
      expect(tf.any(tf.greater(z2, 6)).dataSync()[0]).toBe(1);
      expect(tf.any(tf.logicalAnd(tf.greater(z1, 0), tf.less(gA1, 0))).dataSync()[0]).toBe(1);
      return gX;
    });
    const g = got as unknown as tf.Tensor4D;
    expect(maxAbsDiff(g, want)).toBeLessThan(1e-4);
    expect(tf.tidy(() => tf.max(tf.abs(want)).dataSync()[0])).toBeGreaterThan(0.1);
    tf.dispose([g, want, x]);
    model.dispose();
  });
});

describe('the gradient override lives only inside each synchronous backward pass', () => {
  it('the registry holds the very same config objects before, between batches, after a call, after an error and after an abort', async () => {
    const { classifier, dispose } = fusedNet();
    const x = seeded([3, H, W, C], 23, 0, 1) as tf.Tensor4D;
    const before = registry();
    const tensors = tf.memory().numTensors;
    // between batches (what user code awaiting in parallel would see): tfjs's own gradients
    const seen: boolean[] = [];
    const maps = await guidedBackprop({ batchSize: 1, onProgress: () => seen.push(tf.getGradient('Relu') === before[0] && tf.getGradient('Relu6') === before[1]) })
      .explain(classifier, x, [0, 1, 2]);
    expect(seen).toEqual([true, true, true]);
    maps.dispose();
    expectRegistry(before);
    // an error thrown inside the backward pass
    const broken = fromFunction((xi) => {
      const y = tf.relu(tf.reshape(xi, [-1, D]));
      if (tf.getGradient('Relu') !== before[0]) throw new Error('boom inside the guided pass');
      return tf.slice(y, [0, 0], [-1, K]) as tf.Tensor2D;
    }, { inputSize: [H, W], channels: C, numClasses: K, preprocess: { inputRange: [0, 1] } });
    await expect(guidedBackprop().explain(broken, x, 0)).rejects.toThrow(/boom inside the guided pass/);
    expectRegistry(before);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(() => withGuidedRelu(() => { throw new Error('sync boom'); })).toThrow('sync boom');
    expectRegistry(before);
    // an abort between batches
    const ctrl = new AbortController();
    const progress: number[] = [];
    const run = guidedBackprop({ batchSize: 1, signal: ctrl.signal, onProgress: (p) => { progress.push(p.done); ctrl.abort(); } }).explain(classifier, x, 0);
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    expect(progress).toEqual([1]);
    expectRegistry(before);
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([x]);
    dispose();
  });

  it('a gradient registered by the user before the call is the one restored', () => {
    const own: tf.GradConfig = { kernelName: 'Relu6', inputsToSave: ['x'], gradFunc: (dy) => ({ x: () => tf.mul(dy as tf.Tensor, 2) }) };
    const original = tf.getGradient('Relu6');
    tf.unregisterGradient('Relu6');
    tf.registerGradient(own);
    try {
      const g = withGuidedRelu(() => tf.grad((v: tf.Tensor) => tf.sum(tf.relu6(v)))(tf.tensor1d([-1, 2, 7])));
      expect(Array.from(g.dataSync())).toEqual([0, 1, 0]);
      g.dispose();
      expect(tf.getGradient('Relu6')).toBe(own);
    } finally {
      tf.unregisterGradient('Relu6');
      tf.registerGradient(original);
    }
  });

  it('rejects bad options with BAD_OPTION before any work', () => {
    expect(() => guidedBackprop({ aggregate: 'max' as 'maxAbs' })).toThrow(SaliencyError);
    for (const bad of [{ batchSize: 0 }, { samples: -1 }, { samples: 2.5 }, { noise: -0.1 }, { seed: 0.5 }, { cropFraction: 0.3 }, { cropFraction: 1.2 }]) {
      expect(() => guidedBackprop(bad)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    }
  });

  it('rejects bad images and targets with their codes, leaking nothing', async () => {
    const { classifier, dispose } = fusedNet();
    const x = seeded([2, H, W, C], 3) as tf.Tensor4D;
    const wrong = seeded([1, H + 1, W, C], 3) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    await expect(guidedBackprop().explain(classifier, x, [0, K])).rejects.toMatchObject({ code: 'BAD_TARGET' });
    await expect(guidedBackprop().explain(classifier, wrong, 0)).rejects.toMatchObject({ code: 'BAD_SIZE', formerCode: 'BAD_RANK' });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, wrong]);
    dispose();
  });
});

// ---------------------------------------------------------------------------------------------
// Model-randomisation sanity check (Adebayo et al. 2018) on the REAL face-expression model.

/** Spearman rank correlation (average ranks for ties). */
function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ranks = (v: ArrayLike<number>) => {
    const idx = Array.from({ length: v.length }, (_, i) => i).sort((i, j) => v[i] - v[j]);
    const r = new Float64Array(v.length);
    for (let s = 0; s < idx.length;) {
      let e = s;
      while (e + 1 < idx.length && v[idx[e + 1]] === v[idx[s]]) e++;
      for (let k = s; k <= e; k++) r[idx[k]] = (s + e) / 2;
      s = e + 1;
    }
    return r;
  };
  const ra = ranks(a), rb = ranks(b);
  const n = ra.length, m = (n - 1) / 2;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (ra[i] - m) * (rb[i] - m); saa += (ra[i] - m) ** 2; sbb += (rb[i] - m) ** 2; }
  return sab / Math.sqrt(saa * sbb);
}

describe('model randomisation (Adebayo et al.): real face-expression model, real faces, wasm backend', () => {
  const HAPPY = FACE_EXPRESSION_CLASSES.indexOf('happy');
  const TOP = ['fc', 'dense3_conv0', 'dense3_conv1', 'dense3_conv2', 'dense3_conv3'];
  const DEEPER = [...TOP, 'dense2_conv0', 'dense2_conv1', 'dense2_conv2', 'dense2_conv3'];
  const classifierOf = (m: tfl.LayersModel) => fromLayersModel(m, { preprocess: { inputRange: [0, 255], mean: FACE_EXPRESSION_MEAN, std: 255 } });
  const models: tfl.LayersModel[] = [];
  let faces: tf.Tensor4D;

  /**
   * A COPY of the trained model (built and loaded afresh) whose `layers` are re-initialised as
   * tfjs-layers initialises them — Glorot-uniform kernels, zero biases — with seeded draws.
   */
  async function randomizedCopy(layers: string[]): Promise<tfl.LayersModel> {
    const copy = await loadFaceExpressionModel();
    layers.forEach((name, li) => {
      const layer = copy.getLayer(name);
      const fresh = layer.getWeights().map((w, i) => {
        if (w.rank === 1) return tf.zeros(w.shape);
        const shape = w.shape as number[];
        const field = w.rank === 4 ? shape[0] * shape[1] : 1;
        const limit = Math.sqrt(6 / (shape[w.rank - 2] * field + shape[w.rank - 1] * field));
        return tf.randomUniform(w.shape, -limit, limit, 'float32', 1000 + 10 * li + i);
      });
      layer.setWeights(fresh);
      tf.dispose(fresh);
    });
    models.push(copy);
    return copy;
  }

  beforeAll(async () => {
    expect((await initBackend({ prefer: 'wasm', quiet: true })).name).toBe('wasm');
    const crops: tf.Tensor4D[] = [];
    for (const s of sampleFaces()) {
      for (const f of s.faces) {
        if (f.expressions.squareCrop[HAPPY] < 0.9 || crops.length >= 2) continue;
        const img = await readImage(s.path, { region: f.box, square: true });
        crops.push(tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]), [112, 112], false, true)));
      }
    }
    faces = tf.concat(crops) as tf.Tensor4D;
    tf.dispose(crops);
  });
  afterAll(async () => {
    for (const m of models) m.dispose();
    faces.dispose();
    await tf.setBackend('cpu');
  });

  it('randomising the top layers changes the gradient and SmoothGrad maps (Spearman < 0.5 one block down); guided backprop barely changes, as the literature reports', async () => {
    const trained = await loadFaceExpressionModel();
    models.push(trained);
    const top = await randomizedCopy(TOP);
    const deeper = await randomizedCopy(DEEPER);
    const methods: [string, SaliencyMethod][] = [
      ['gradient', vanillaGradient()],
      ['smoothgrad', vanillaGradient({ samples: 10, seed: 1 })],
      ['guided', guidedBackprop()],
    ];
    const n = faces.shape[0], px = 112 * 112;
    const rho: Record<string, { top: number[]; deeper: number[] }> = {};
    const before = tf.memory().numTensors;
    for (const [name, method] of methods) {
      const maps: Float32Array[] = [];
      for (const m of [trained, top, deeper]) {
        const t = await method.explain(classifierOf(m), faces, HAPPY);
        maps.push((await t.data()) as Float32Array);
        t.dispose();
      }
      const per = (k: number) => Array.from({ length: n }, (_, i) => spearman(maps[0].slice(i * px, (i + 1) * px), maps[k].slice(i * px, (i + 1) * px)));
      rho[name] = { top: per(1), deeper: per(2) };
    }
    expect(tf.memory().numTensors).toBe(before);
    console.log('Spearman(original map, map after randomisation), per face:\n' + Object.entries(rho)
      .map(([k, v]) => `  ${k}: fc+dense3 → ${v.top.map((r) => r.toFixed(3)).join(', ')}; fc+dense3+dense2 → ${v.deeper.map((r) => r.toFixed(3)).join(', ')}`).join('\n'));
    // Gradient and SmoothGrad: the maps depend on the weights. Randomising fc + dense3 already
    // removes most of the rank agreement (measured ≈ 0.5–0.56 for the gradient, ≈ 0.48 for
    // SmoothGrad); one block further down, both are clearly below 0.5.
    for (const k of ['gradient', 'smoothgrad']) {
      for (const r of rho[k].top) expect(r).toBeLessThan(0.65);
      for (const r of rho[k].deeper) expect(r).toBeLessThan(0.5);
    }
    for (const r of rho.smoothgrad.top) expect(r).toBeLessThan(0.5);
    // Guided backprop FAILS the check here, as Adebayo et al. found: its maps stay close to the
    // original (measured ≈ 0.9 and ≈ 0.77), i.e. they mostly reflect the image, not the weights.
    for (const r of rho.guided.top) expect(r).toBeGreaterThan(0.8);
    for (const r of rho.guided.deeper) expect(r).toBeGreaterThan(0.6);
    // The cascade lowers every method's agreement.
    for (const k of Object.keys(rho)) rho[k].deeper.forEach((r, i) => expect(r).toBeLessThan(rho[k].top[i]));
  });
});

describe('guided backprop on a real graph model whose convs are fused with relu6 (nsfwjs MobileNetV2Mid, wasm)', () => {
  beforeAll(async () => {
    expect((await initBackend({ prefer: 'wasm', quiet: true })).name).toBe('wasm');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('under the tape no fused kernel keeps its relu6: Relu6 kernels carry the guided gradient, which differs from the plain one', async () => {
    const model = await loadNsfwMobileNetV2Mid();
    const fusedRelu6 = Object.values((model as unknown as { executor: { graph: { nodes: Record<string, { op: string; attrParams: Record<string, { value: unknown }> }> } } }).executor.graph.nodes)
      .filter((n) => /Fused/.test(n.op) && String(n.attrParams.fusedOps?.value ?? '').includes('relu6')).length;
    expect(fusedRelu6).toBeGreaterThan(30); // _FusedConv2D / FusedDepthwiseConv2dNative with [biasadd, relu6]
    const c = fromGraphModel(model, { inputSize: [224, 224], numClasses: 5, preprocess: { inputRange: [0, 255], modelRange: [0, 1] } });
    const x = tf.randomUniform([1, 224, 224, 3], 0, 255, 'float32', 2) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    let guided: tf.Tensor4D | null = null;
    const info = await tf.profile(() => { guided = guidedGradient(c)(x, [2]); return guided; });
    const plain = logitGradient(c)(x, [2]);
    const g = guided as unknown as tf.Tensor4D;
    const count = (k: string) => info.kernels.filter((kernel) => kernel.name === k).length;
    // Every fused relu6 node ran unfused: its Relu6 kernel is on the tape (guided backward then runs Relu on dy).
    expect(count('Relu6')).toBe(fusedRelu6);
    expect(count('FusedDepthwiseConv2D')).toBe(0);
    const [diff, scale] = tf.tidy(() => [tf.max(tf.abs(tf.sub(g, plain))).dataSync()[0], tf.max(tf.abs(plain)).dataSync()[0]]);
    expect(diff).toBeGreaterThan(0.1 * scale);
    tf.dispose([g, plain]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });
});
