/**
 * The faster backward kernels of the wasm backend (registerFastBackwardKernels) and the
 * faster gradients installed by withFastGradients (batch norm, clipByValue, pad, and the
 * tape's Identity sharing on wasm), against tfjs's own kernels and gradients on the cpu
 * backend, and — for the element-wise ones — bit for bit against tfjs's gradients on wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { bridgeMissingKernels } from '../../packages/core/src/gradients/kernel_bridge';
import { FAST_BACKWARD_KERNELS, registerFastBackwardKernels } from '../../packages/core/src/gradients/wasm_backward_kernels';
import { simdModuleBytes, wasmSimdKernels } from '../../packages/core/src/gradients/wasm_simd';
import { withFastGradients } from '../../packages/core/src/gradients/fast_fused';
import { inputGradient } from '../../packages/core/src/gradients/input_gradient';
import { dataIds, rand, run, sizeOf, T, type Pad } from './kernel_inputs';

type Out = { shape: number[]; values: Float32Array };

/**
 * Runs `fn` on `backend`, reads the result; checks no tensor and no backend data is left behind.
 * `warm`: run it once before counting (a model's weights move to the backend on first use).
 */
async function on(backend: string, fn: () => tf.Tensor, warm = false): Promise<Out> {
  expect(await tf.setBackend(backend)).toBe(true);
  if (warm) tf.tidy(fn).dispose();
  const tensors = tf.memory().numTensors, ids = dataIds(backend);
  const t = tf.tidy(fn);
  const out = { shape: t.shape.slice(), values: (await t.data()) as Float32Array };
  t.dispose();
  expect(tf.memory().numTensors).toBe(tensors);
  expect(dataIds(backend), `data left on ${backend}`).toBe(ids);
  return out;
}

/** max |got − ref| / max |ref| ≤ tol (and ref not all zeros, so the comparison means something). */
function expectRel(got: Out, ref: Out, tol: number, label: string): number {
  expect(got.shape, label).toEqual(ref.shape);
  let d = 0, m = 0;
  for (let i = 0; i < ref.values.length; i++) {
    d = Math.max(d, Math.abs(got.values[i] - ref.values[i]));
    m = Math.max(m, Math.abs(ref.values[i]));
  }
  expect(m, `${label}: reference is all zeros`).toBeGreaterThan(0);
  expect(d / m, label).toBeLessThanOrEqual(tol);
  return d / m;
}

function expectBitExact(got: Out, ref: Out, label: string): void {
  expect(got.shape, label).toEqual(ref.shape);
  let bad = 0;
  for (let i = 0; i < ref.values.length; i++) if (!Object.is(got.values[i] + 0, ref.values[i] + 0)) bad++;
  expect(bad, `${label}: elements that differ`).toBe(0);
}

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
  bridgeMissingKernels('wasm', 'cpu');
});

describe('SIMD micro-kernels on a WebAssembly.Memory', () => {
  it.each([false, true])('clipGrad / reluGrad / scaleChannels(2) equal a JS reference (shared memory: %s)', (shared) => {
    expect(WebAssembly.validate(simdModuleBytes(shared))).toBe(true);
    const memory = shared
      ? new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true } as WebAssembly.MemoryDescriptor)
      : new WebAssembly.Memory({ initial: 2 });
    const k = wasmSimdKernels(memory);
    expect(k).not.toBeNull();
    const f = new Float32Array(memory.buffer);
    const n = 1031; // not a multiple of 4: the scalar tail runs too
    const X = 64, DY = X + 4 * 1040, OUT = DY + 4 * 1040;
    const xs = rand(n, 3), dys = rand(n, 4);
    for (let i = 0; i < n; i++) {
      // ties at both bounds, NaN and ±Infinity included
      f[X / 4 + i] = i % 11 === 0 ? -0.25 : i % 13 === 0 ? 0.5 : i === 7 ? NaN : i === 9 ? Infinity : i === 10 ? -Infinity : xs[i];
      f[DY / 4 + i] = dys[i] * 10;
    }
    k!.clipGrad(X, DY, OUT, n, -0.25, 0.5);
    let bad = 0, passed = 0;
    for (let i = 0; i < n; i++) {
      const x = f[X / 4 + i];
      const want = x >= -0.25 && x <= 0.5 ? f[DY / 4 + i] : 0;
      if (!Object.is(f[OUT / 4 + i], want)) bad++;
      if (want !== 0) passed++;
    }
    expect(bad).toBe(0);
    expect(passed).toBeGreaterThan(n / 4);
    // relu: dy · (x > 0 ? 1 : 0), with float32 products (−0 for negative dy, NaN for ±∞ dy where x ≤ 0)
    f[DY / 4 + 3] = Infinity;
    f[X / 4 + 3] = -1;
    k!.reluGrad(X, DY, OUT, n);
    for (let i = 0; i < n; i++) {
      const want = Math.fround(f[DY / 4 + i] * (f[X / 4 + i] > 0 ? 1 : 0));
      if (!Object.is(f[OUT / 4 + i], want)) bad++;
    }
    expect(Number.isNaN(f[OUT / 4 + 3])).toBe(true);
    expect(bad).toBe(0);
    // guided relu: x > 0 && dy > 0 ? dy : +0 (NaN in x or dy, and ∞ dy where x ≤ 0, give +0)
    const dy5 = f[DY / 4 + 5];
    f[DY / 4 + 5] = NaN;
    k!.guidedReluGrad(X, DY, OUT, n);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const x = f[X / 4 + i], dy = f[DY / 4 + i];
      const want = x > 0 && dy > 0 ? dy : 0;
      if (!Object.is(f[OUT / 4 + i], want)) bad++;
      if (want !== 0) kept++;
    }
    expect(f[OUT / 4 + 3]).toBe(0);
    expect(Object.is(f[OUT / 4 + 5], 0)).toBe(true);
    expect(bad).toBe(0);
    expect(kept).toBeGreaterThan(n / 8); // every branch taken: both signs of x and of dy
    expect(kept).toBeLessThan(n / 2);
    f[DY / 4 + 5] = dy5; // finite again for the products below
    for (const c of [1, 3, 8, 13]) {
      const rows = 9, A = OUT + 4 * 1040, B = A + 128, O = B + 128;
      for (let j = 0; j < c; j++) { f[A / 4 + j] = 0.37 + 0.11 * j; f[B / 4 + j] = 1.9 - 0.23 * j; }
      k!.scaleChannels2(DY, A, B, O, rows, c);
      for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) {
        const want = Math.fround(Math.fround(f[DY / 4 + r * c + j] * f[A / 4 + j]) * f[B / 4 + j]);
        if (f[O / 4 + r * c + j] !== want) bad++;
      }
      k!.scaleChannels(DY, A, O, rows, c);
      for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) {
        if (f[O / 4 + r * c + j] !== Math.fround(f[DY / 4 + r * c + j] * f[A / 4 + j])) bad++;
      }
    }
    expect(bad).toBe(0);
  });
});

describe('fast backward kernels on the wasm backend', () => {
  let added: readonly string[] = [];
  beforeAll(async () => {
    await tf.setBackend('wasm');
    const r = registerFastBackwardKernels('wasm');
    added = r.added;
    expect(r.replaced).toEqual(['Conv2DBackpropInput', 'MaxPoolGrad', 'Slice']);
    expect(registerFastBackwardKernels('wasm')).toBe(r); // idempotent
    expect(registerFastBackwardKernels('cpu').replaced).toEqual([]);
  });

  it('registers the private kernels on wasm only', () => {
    expect([...added].sort()).toEqual(Object.values(FAST_BACKWARD_KERNELS).sort());
    for (const name of added) {
      expect(tf.getKernel(name, 'wasm')).toBeDefined();
      expect(tf.getKernel(name, 'cpu')).toBeUndefined();
    }
  });

  it('Conv2DBackpropInput matches cpu: filter sizes, strides 1/2, same/valid/explicit padding, batch 1 and 3', async () => {
    const cases: Array<[number[], number[], number | [number, number], Pad, ('ceil' | 'floor')?]> = [
      [[1, 8, 9, 5], [1, 1, 5, 7], 1, 'same'],
      [[3, 8, 9, 5], [1, 1, 5, 7], 1, 'valid'],
      [[1, 9, 9, 3], [3, 3, 3, 6], 1, 'same'],
      [[3, 7, 10, 4], [3, 3, 4, 2], 1, 'valid'],
      [[1, 8, 8, 3], [3, 3, 3, 8], 2, 'same'],
      [[3, 9, 9, 3], [3, 3, 3, 4], 2, 'same'],
      [[1, 9, 8, 2], [3, 3, 2, 5], 2, 'valid'],
      [[3, 10, 11, 2], [5, 3, 2, 3], [2, 1], 'same'],
      [[1, 8, 8, 6], [1, 1, 6, 4], 2, 'valid'],
      [[1, 6, 6, 2], [2, 2, 2, 3], 2, 'same'],
      [[1, 7, 7, 2], [3, 3, 2, 3], 2, 1],
      [[3, 7, 8, 2], [3, 3, 2, 4], 1, [[0, 0], [2, 0], [1, 2], [0, 0]]],
      // explicit padding beyond the filter: not covered by the replacement, wasm's own kernel runs
      [[1, 6, 6, 2], [3, 3, 2, 3], 1, [[0, 0], [4, 0], [0, 3], [0, 0]]],
      [[1, 7, 8, 2], [3, 3, 2, 3], 2, 2, 'ceil'],
    ];
    for (const [xs, fs, strides, pad, round] of cases) {
      const s = Array.isArray(strides) ? strides : [strides, strides];
      const ci = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], fs as [number, number, number, number],
        strides, 1, pad as 'same', round);
      const dyShape = [xs[0], ci.outHeight, ci.outWidth, fs[3]];
      const fn = (): tf.Tensor => run('Conv2DBackpropInput', { dy: T(dyShape, 1), filter: T(fs, 2) },
        { strides: s, pad, dataFormat: 'NHWC', dimRoundingMode: round, inputShape: xs });
      expectRel(await on('wasm', fn), await on('cpu', fn), 1e-4, `Conv2DBackpropInput x=${xs} f=${fs} s=${s} pad=${JSON.stringify(pad)}`);
    }
  });

  it('tf.grad of conv2d and depthwiseConv2d (strides 1/2, multipliers 1/2, batch 1/3) matches cpu', async () => {
    const cases: Array<[string, number[], number[], number, Pad]> = [
      ['conv', [3, 9, 9, 3], [3, 3, 3, 5], 2, 'same'],
      ['conv', [1, 9, 10, 4], [3, 3, 4, 5], 1, 'same'],
      ['conv', [3, 8, 8, 4], [1, 1, 4, 6], 1, 'valid'],
      ['dw', [3, 9, 9, 3], [3, 3, 3, 1], 2, 'same'],
      ['dw', [1, 10, 9, 2], [3, 3, 2, 2], 1, 'same'],
      ['dw', [3, 8, 8, 2], [3, 3, 2, 2], 2, 'valid'],
      ['dw', [1, 11, 11, 3], [5, 5, 3, 1], 1, [[0, 0], [1, 3], [2, 2], [0, 0]]],
    ];
    for (const [kind, xs, fs, s, pad] of cases) {
      const fn = (): tf.Tensor => {
        const x = T(xs, 5), w = T(fs, 6);
        const net = (a: tf.Tensor): tf.Tensor => (kind === 'conv'
          ? tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, s, pad as 'same')
          : tf.depthwiseConv2d(a as tf.Tensor4D, w as tf.Tensor4D, s, pad as 'same'));
        const r = tf.tidy(() => T(net(x).shape, 7));
        return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(net(a), r)))(x);
      };
      expectRel(await on('wasm', fn), await on('cpu', fn), 1e-4, `grad ${kind} x=${xs} f=${fs} s=${s} pad=${JSON.stringify(pad)}`);
    }
  });

  it('DepthwiseConv2dNativeBackpropInput with dilation 2 matches cpu (reference: the zero-dilated filter)', async () => {
    // tfjs's gradients refuse dilations > 1 and the cpu kernel ignores them, so the reference is the
    // cpu kernel with the equivalent filter that has d−1 zero rows/columns between its taps.
    const cases: Array<[number[], number[], Pad]> = [
      [[1, 9, 9, 2], [3, 3, 2, 2], 'same'],
      [[3, 11, 10, 2], [3, 2, 2, 1], 'valid'],
      [[3, 10, 9, 3], [3, 3, 3, 1], [[0, 0], [2, 2], [1, 3], [0, 0]]],
    ];
    const d = 2;
    for (const [xs, fs, pad] of cases) {
      const eff = [(fs[0] - 1) * d + 1, (fs[1] - 1) * d + 1, fs[2], fs[3]];
      const ci = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], eff as [number, number, number, number],
        1, 1, pad as 'same', undefined, true);
      const dyShape = [xs[0], ci.outHeight, ci.outWidth, fs[2] * fs[3]];
      const w = rand(sizeOf(fs), 6);
      const wd = new Float32Array(sizeOf(eff));
      for (let i = 0; i < fs[0]; i++) for (let j = 0; j < fs[1]; j++) for (let k = 0; k < fs[2] * fs[3]; k++) {
        wd[((i * d) * eff[1] + j * d) * fs[2] * fs[3] + k] = w[(i * fs[1] + j) * fs[2] * fs[3] + k];
      }
      const got = await on('wasm', () => run('DepthwiseConv2dNativeBackpropInput', { dy: T(dyShape, 5), filter: tf.tensor(w, fs) },
        { strides: [1, 1], pad, dilations: [d, d], inputShape: xs }));
      const ref = await on('cpu', () => run('DepthwiseConv2dNativeBackpropInput', { dy: T(dyShape, 5), filter: tf.tensor(wd, eff) },
        { strides: [1, 1], pad, dilations: [1, 1], inputShape: xs }));
      expectRel(got, ref, 1e-4, `dilated depthwise backprop input x=${xs} f=${fs} pad=${JSON.stringify(pad)}`);
    }
  });

  it('conv2dTranspose (the same kernel used forward) matches cpu', async () => {
    const fn = (): tf.Tensor => tf.conv2dTranspose(T([3, 5, 6, 4], 8) as tf.Tensor4D, T([3, 3, 2, 4], 9) as tf.Tensor4D, [3, 10, 12, 2], 2, 'same');
    expectRel(await on('wasm', fn), await on('cpu', fn), 1e-4, 'conv2dTranspose');
  });

  it('the private kernels equal tfjs ops bit for bit', async () => {
    const x = (): tf.Tensor => tf.mul(T([3, 5, 7, 6], 10), 4);
    const dy = (): tf.Tensor => T([3, 5, 7, 6], 11);
    const clip = (name: string) => (): tf.Tensor => (name === 'fast'
      ? run(FAST_BACKWARD_KERNELS.clipGrad, { x: x(), dy: dy() }, { clipValueMin: -1, clipValueMax: 2 })
      : tf.where(tf.logicalAnd(tf.greaterEqual(x(), -1), tf.lessEqual(x(), 2)), dy(), tf.zerosLike(dy())));
    expectBitExact(await on('wasm', clip('fast')), await on('wasm', clip('tfjs')), 'clip grad');
    expectBitExact(await on('wasm', () => run(FAST_BACKWARD_KERNELS.reluGrad, { x: x(), dy: dy() })),
      await on('wasm', () => tf.mul(dy(), tf.cast(tf.step(x()), 'float32'))), 'relu grad');
    expectBitExact(await on('wasm', clip('fast')), await on('cpu', clip('tfjs')), 'clip grad vs cpu');
    // guided backpropagation's relu gradient (packages/methods/src/guided_relu.ts): relu(dy) · step(x)
    const guidedFast = (): tf.Tensor => run(FAST_BACKWARD_KERNELS.guidedReluGrad, { x: x(), dy: dy() });
    const guidedOps = (): tf.Tensor => tf.mul(tf.relu(dy()), tf.step(x()));
    expectBitExact(await on('wasm', guidedFast), await on('wasm', guidedOps), 'guided relu grad');
    expectBitExact(await on('wasm', guidedFast), await on('cpu', guidedOps), 'guided relu grad vs cpu');
    for (const c of [6, 3]) {
      const a = (): tf.Tensor => T([c], 12), b = (): tf.Tensor => T([c], 13), d = (): tf.Tensor => T([2, 4, 5, c], 14);
      const fast = (): tf.Tensor => run(FAST_BACKWARD_KERNELS.scaleChannels, { dy: d(), a: a(), b: b() });
      const ref = (): tf.Tensor => tf.mul(tf.mul(d(), a()), b());
      expectBitExact(await on('wasm', fast), await on('wasm', ref), `scaleChannels2 C=${c}`);
      expectBitExact(await on('wasm', () => run(FAST_BACKWARD_KERNELS.scaleChannels, { dy: d(), a: a() })),
        await on('wasm', () => tf.mul(d(), a())), `scaleChannels C=${c}`);
    }
    const boxes: Array<[number[], number[], number[]]> = [
      [[3, 9, 8, 5], [1, 2, 1, 0], [2, 5, 6, 5]],
      [[2, 7, 6, 4], [0, 0, 0, 0], [2, 7, 6, 4]],
      [[2, 7, 6, 4], [1, 1, 2, 1], [1, 4, 3, 2]],
      [[4, 6], [1, 2], [3, 3]],
      [[5, 3, 2, 2, 3], [1, 0, 1, 0, 0], [3, 3, 1, 2, 3]],
    ];
    for (const [shape, begin, size] of boxes) {
      expectBitExact(await on('wasm', () => run(FAST_BACKWARD_KERNELS.slice, { x: T(shape, 15) }, { begin, size })),
        await on('cpu', () => tf.slice(T(shape, 15), begin, size)), `slice ${shape} ${begin} ${size}`);
    }
  });

  it('tf.slice on wasm (its Slice kernel replaced) equals cpu for float32, int32 and bool, every rank, -1 sizes and empty boxes', async () => {
    const cases: Array<[number[], number[], number[]]> = [
      [[16, 9, 8, 3], [5, 0, 0, 0], [1, -1, -1, -1]], // one image out of a batch: one contiguous run
      [[16, 9, 8, 3], [2, 0, 0, 0], [3, 9, 8, 3]],
      [[3, 9, 8, 5], [1, 2, 1, 0], [2, 5, 6, 5]],
      [[2, 7, 6, 4], [1, 1, 2, 1], [1, 4, 3, 2]],
      [[4, 6], [1, 2], [3, -1]],
      [[11], [3], [5]],
      [[5, 3, 2, 2, 3], [1, 0, 1, 0, 0], [3, 3, 1, 2, 3]],
      [[4, 6], [2, 0], [0, 6]], // empty
    ];
    for (const [shape, begin, size] of cases) {
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const src = (): tf.Tensor => {
          const f = tf.mul(T(shape, 16), 50);
          return dtype === 'float32' ? f : dtype === 'int32' ? tf.cast(f, 'int32') : tf.greater(f, 0);
        };
        const got = await on('wasm', () => tf.cast(tf.slice(src(), begin, size), 'float32'));
        const want = await on('cpu', () => tf.cast(tf.slice(src(), begin, size), 'float32'));
        expect(got.shape).toEqual(want.shape);
        expectBitExact(got, want, `tf.slice ${dtype} ${shape} ${begin} ${size}`);
      }
    }
    // A scalar and a gradient through slice (the tape's Slice gradient is a pad) keep working.
    expect((await on('wasm', () => tf.slice(tf.tensor1d([4, 5, 6]), [2], [1]))).values[0]).toBe(6);
    const g = await on('wasm', () => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.slice(v, [1, 0], [2, 3]), 3)))(T([4, 3], 17)));
    expect(Array.from(g.values)).toEqual([0, 0, 0, 3, 3, 3, 3, 3, 3, 0, 0, 0]);
  });
});

/** A small layers model with every layer the fast gradients touch. */
function smallNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [17, 17, 3] });
  let h = tfl.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]] }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, useBias: false, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.batchNormalization({ epsilon: 1e-3 }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.reLU({ maxValue: 6 }).apply(h) as tfl.SymbolicTensor;
  const skip = h;
  h = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.batchNormalization({ epsilon: 1e-2 }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.reLU({ maxValue: 6 }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 8, kernelSize: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.add().apply([h, skip]) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 4, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }).apply(h) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  // Non-trivial batch-norm statistics (fresh layers have mean 0, variance 1, gamma 1, beta 0).
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const values = layer.weights.map((w, i) => tf.tidy(() => (w.name.includes('variance')
      ? tf.add(tf.abs(T(w.shape as number[], 20 + i)), 0.3) : tf.mul(T(w.shape as number[], 30 + i), 1.5))));
    layer.setWeights(values);
    tf.dispose(values);
  }
  return model;
}

describe('fast gradients through a layers model (batch norm, ReLU6, zero padding, convs)', () => {
  it('inputGradient on wasm equals tfjs gradients on wasm and on cpu; no tensor or data left', async () => {
    await tf.setBackend('wasm');
    const idsBefore = dataIds('wasm');
    const model = smallNet();
    const x = (): tf.Tensor => tf.mul(T([3, 17, 17, 3], 40), 3);
    const mask = (): tf.Tensor => tf.oneHot([0, 2, 3], 4);
    const f = (xi: tf.Tensor): tf.Scalar => tf.sum(tf.mul(model.predict(xi) as tf.Tensor, mask()));
    // warm: the first gradient keeps the transformed filters on the backend (one per conv) for the next ones
    const fast = await on('wasm', () => inputGradient(f, x()), true);
    const tfjsWasm = await on('wasm', () => tf.grad(f)(x()));
    const cpu = await on('cpu', () => tf.grad(f)(x()), true);
    expectRel(fast, tfjsWasm, 1e-5, 'fast vs tfjs gradients, both on wasm');
    expectRel(fast, cpu, 1e-4, 'fast on wasm vs tfjs on cpu');
    // the fast path really ran the faster kernels, and none of tfjs's slow ones
    await tf.setBackend('wasm');
    const xs = tf.tidy(x);
    const profile = await tf.profile(() => inputGradient(f, xs));
    tf.dispose([xs, profile.result as tf.Tensor]);
    const names = new Set(profile.kernels.map((k) => k.name));
    // (guided backpropagation's relu gradient runs only inside withGuidedRelu: tests/methods/guided_backprop.test.ts)
    const plain = Object.values(FAST_BACKWARD_KERNELS).filter((k) => k !== FAST_BACKWARD_KERNELS.guidedReluGrad);
    for (const k of [...plain, 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropInput']) {
      expect(names.has(k), k).toBe(true);
    }
    expect(names.has(FAST_BACKWARD_KERNELS.guidedReluGrad)).toBe(false);
    // (Slice does run once: layers' predict slices its input into batches)
    for (const k of ['Tile', 'Select', 'LogicalAnd', 'Step', 'Conv2DBackpropFilter']) expect(names.has(k), k).toBe(false);
    // the gradient is not trivially zero where ReLU6 saturates: a sizeable share of pixels gets some
    let nonzero = 0;
    for (const v of fast.values) if (v !== 0) nonzero++;
    expect(nonzero).toBeGreaterThan(fast.values.length / 2);
    await tf.setBackend('wasm');
    model.dispose();
    // disposing the model freed the filters derived from its weights too
    expect(dataIds('wasm')).toBe(idsBefore);
  });

  it('the faster gradients and the shared Identity live only inside withFastGradients', async () => {
    await tf.setBackend('wasm');
    const names = ['FusedBatchNorm', 'ClipByValue', 'Relu', 'PadV2'];
    const before = names.map((k) => tf.getGradient(k));
    const identity = tf.getKernel('Identity', 'wasm');
    let inside: { sameData: boolean; grads: boolean[] } | null = null;
    const a = tf.tensor([1, 2, 3]);
    withFastGradients(() => {
      const b = tf.clone(a);
      inside = {
        sameData: b.dataId === a.dataId,
        grads: names.map((k, i) => tf.getGradient(k) !== before[i]),
      };
      b.dispose();
    });
    expect(inside).toEqual({ sameData: true, grads: [true, true, true, true] });
    names.forEach((k, i) => expect(tf.getGradient(k), k).toBe(before[i]));
    expect(tf.getKernel('Identity', 'wasm')).toBe(identity);
    const c = tf.clone(a);
    expect(c.dataId).not.toBe(a.dataId); // wasm's own Identity copies again
    expect(Array.from(await a.data())).toEqual([1, 2, 3]);
    tf.dispose([a, c]);
    // restored after a throw as well
    expect(() => withFastGradients(() => { throw new Error('boom'); })).toThrow('boom');
    expect(tf.getKernel('Identity', 'wasm')).toBe(identity);
    names.forEach((k, i) => expect(tf.getGradient(k), k).toBe(before[i]));
  });

  it('a Relu gradient someone else installed (guided backpropagation\'s) is left in place', async () => {
    await tf.setBackend('wasm');
    const tfjsRelu = tf.getGradient('Relu');
    // guided ReLU: dy where dy > 0 and x > 0
    const guided: tf.GradConfig = {
      kernelName: 'Relu', inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({ x: () => tf.mul(tf.relu(dy as tf.Tensor), tf.step(saved[0])) }),
    };
    tf.unregisterGradient('Relu');
    tf.registerGradient(guided);
    try {
      const x = (): tf.Tensor => T([2, 5, 6, 3], 60);
      const w = (): tf.Tensor => T([3, 3, 3, 4], 61);
      const f = (a: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.conv2d(tf.relu(tf.mul(a, 2)) as tf.Tensor4D, w() as tf.Tensor4D, 1, 'same'), T([2, 5, 6, 4], 62)));
      let inside: tf.GradConfig | undefined;
      const fast = await on('wasm', () => withFastGradients(() => { inside = tf.getGradient('Relu'); return tf.grad(f)(x()); }));
      expect(inside).toBe(guided);
      const ref = await on('wasm', () => tf.grad(f)(x()));
      expectBitExact(fast, ref, 'guided gradient under withFastGradients');
      // and it is not tfjs's gradient: some negative upstream gradient was cut
      tf.unregisterGradient('Relu');
      tf.registerGradient(tfjsRelu!);
      const plain = await on('wasm', () => tf.grad(f)(x()));
      expect(plain.values.some((v, i) => v !== ref.values[i])).toBe(true);
    } finally {
      if (tf.getGradient('Relu') !== tfjsRelu) {
        tf.unregisterGradient('Relu');
        tf.registerGradient(tfjsRelu!);
      }
    }
    expect(tf.getGradient('Relu')).toBe(tfjsRelu);
  });

  it('gradients of the other batch-norm inputs are still tfjs\'s own (computed on demand)', async () => {
    const fn = (): tf.Tensor[] => {
      const x = T([2, 3, 4, 5], 50), mean = T([5], 51), variance = tf.add(tf.abs(T([5], 52)), 0.5);
      const offset = T([5], 53), scale = T([5], 54), r = T([2, 3, 4, 5], 55);
      return tf.grads((a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) =>
        tf.sum(tf.mul(tf.batchNorm(a, m, v, o, s, 1e-3), r)))([x, mean, variance, offset, scale]);
    };
    await tf.setBackend('wasm');
    const n = tf.memory().numTensors;
    const fast = withFastGradients(() => tf.tidy(fn));
    const ref = tf.tidy(fn);
    for (let i = 0; i < 5; i++) {
      expectBitExact({ shape: fast[i].shape, values: fast[i].dataSync() as Float32Array },
        { shape: ref[i].shape, values: ref[i].dataSync() as Float32Array }, `batch-norm grad of input ${i}`);
    }
    tf.dispose([...fast, ...ref]);
    expect(tf.memory().numTensors).toBe(n);
  });
});
