import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers tfjs's gradient functions
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bridgedKernels,
  bridgeMissingKernels,
  GRADIENT_KERNELS,
  missingKernels,
} from '../../packages/core/src/gradients/kernel_bridge';
import { dataIds, rand, run, sizeOf, T, type Pad } from './kernel_inputs';

const WASM_MISSING = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'UnsortedSegmentSum',
];

type Out = { shape: number[]; dtype: string; values: number[] };

/**
 * Runs `fn` on `backend` inside a tidy, reads its outputs and disposes them;
 * checks that no tensor and no backend data id (wasm's and cpu's) is left behind.
 */
async function on(backend: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<Out[]> {
  expect(await tf.setBackend(backend)).toBe(true);
  const tensors = tf.memory().numTensors;
  const ids = { wasm: dataIds('wasm'), cpu: dataIds('cpu'), [backend]: dataIds(backend) };
  const res = tf.tidy(fn);
  const list = Array.isArray(res) ? res : [res];
  const out = list.map((t) => ({ shape: t.shape.slice(), dtype: t.dtype, values: Array.from(t.dataSync()) }));
  tf.dispose(list);
  expect(tf.memory().numTensors).toBe(tensors);
  for (const [name, n] of Object.entries(ids)) expect(dataIds(name), `data ids left on ${name}`).toBe(n);
  return out;
}

/** max |a−b| / max(1, |b|) over all elements; shapes and dtypes must match. */
function expectClose(got: Out[], ref: Out[], tol = 1e-4, label = ''): void {
  expect(got.length).toBe(ref.length);
  got.forEach((g, k) => {
    expect(g.shape, `${label} shape of output ${k}`).toEqual(ref[k].shape);
    expect(g.dtype).toBe(ref[k].dtype);
    let worst = 0;
    g.values.forEach((v, i) => {
      const r = ref[k].values[i];
      worst = Math.max(worst, Math.abs(v - r) / Math.max(1, Math.abs(r)));
    });
    expect(worst, `${label} output ${k}`).toBeLessThanOrEqual(tol);
    // a vacuous comparison (all zeros) would prove nothing
    if (g.values.length > 0 && g.dtype === 'float32') expect(ref[k].values.some((v) => v !== 0), `${label} non-zero`).toBe(true);
  });
}

async function parity(fn: () => tf.Tensor | tf.Tensor[], label: string, other = 'wasm'): Promise<void> {
  const ref = await on('cpu', fn);
  const got = await on(other, fn);
  expectClose(got, ref, 1e-4, label);
}

/** A [fh, fw, c, m] filter with d−1 zero rows/columns between taps. */
function dilateFilter(v: Float32Array, [fh, fw, c, m]: number[], d: number): Float32Array {
  const eh = (fh - 1) * d + 1, ew = (fw - 1) * d + 1, cm = c * m;
  const out = new Float32Array(eh * ew * cm);
  for (let i = 0; i < fh; i++) for (let j = 0; j < fw; j++) for (let k = 0; k < cm; k++) {
    out[((i * d) * ew + j * d) * cm + k] = v[(i * fw + j) * cm + k];
  }
  return out;
}

function outSize(inSize: number, f: number, s: number, d: number, pad: Pad, axis: 1 | 2): number {
  const ci = tf.backend_util.computeConv2DInfo(
    [1, axis === 1 ? inSize : 1, axis === 2 ? inSize : 1, 1],
    [axis === 1 ? f : 1, axis === 2 ? f : 1, 1, 1], s, d, pad as 'same', undefined, true);
  return axis === 1 ? ci.outHeight : ci.outWidth;
}

type Net = (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;
const gradOf = (xs: number[], ws: number[], net: Net) => (): tf.Tensor[] => {
  const x = T(xs, 11), w = T(ws, 12);
  const r = tf.tidy(() => T(net(x, w).shape, 13));
  return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(net(a, b), r)))([x, w]);
};
describe('kernel bridge on the wasm backend', () => {
  let bridged: string[] = [];

  beforeAll(async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    expect(missingKernels('cpu')).toEqual([]);
    expect([...missingKernels('wasm')].sort()).toEqual(WASM_MISSING);
    bridged = bridgeMissingKernels('wasm');
  });

  it('registers the four missing kernels once, as composites of wasm kernels', () => {
    expect([...bridged].sort()).toEqual(WASM_MISSING);
    expect(missingKernels('wasm')).toEqual([]);
    expect(bridgeMissingKernels('wasm')).toEqual([]);
    const info = bridgedKernels('wasm');
    expect(info.map((b) => b.kernel).sort()).toEqual(WASM_MISSING);
    for (const b of info) expect(b.implementation).toBe('composite');
    expect(GRADIENT_KERNELS).toContain('MaxPoolGrad');
  });

  it('Conv2DBackpropFilter matches cpu for strides, paddings and batch sizes', async () => {
    const cases: Array<[number[], number[], number | [number, number], Pad, string?]> = [
      [[1, 7, 9, 3], [3, 3, 3, 4], 1, 'same'],
      [[2, 7, 9, 3], [3, 3, 3, 4], 1, 'valid'],
      [[2, 8, 8, 3], [3, 3, 3, 5], 2, 'same'],
      [[1, 9, 7, 2], [3, 3, 2, 4], 2, 'valid'],
      [[2, 9, 10, 3], [5, 3, 3, 2], [3, 2], 'same'],
      [[1, 8, 8, 4], [1, 1, 4, 6], 2, 'valid'],
      [[2, 6, 6, 2], [2, 2, 2, 3], 2, 'same'],
      [[1, 7, 7, 2], [3, 3, 2, 3], 2, 1],
      [[1, 7, 8, 2], [3, 3, 2, 3], 2, 2, 'ceil'],
      [[2, 7, 7, 2], [3, 2, 2, 3], 1, [[0, 0], [2, 0], [1, 3], [0, 0]]],
    ];
    for (const [xs, fs, strides, pad, round] of cases) {
      const s = Array.isArray(strides) ? strides : [strides, strides];
      const ci = tf.backend_util.computeConv2DInfo(
        xs as [number, number, number, number], fs as [number, number, number, number],
        strides, 1, pad as 'same', round as 'ceil' | undefined);
      const dyShape = [xs[0], ci.outHeight, ci.outWidth, fs[3]];
      await parity(() => run('Conv2DBackpropFilter', { x: T(xs, 1), dy: T(dyShape, 2) },
        { strides: s, pad, dataFormat: 'NHWC', dimRoundingMode: round, filterShape: fs }),
      `Conv2DBackpropFilter ${xs} ${fs} s=${s} pad=${JSON.stringify(pad)}`);
    }
  });

  it('Conv2DBackpropFilter with NCHW data runs on the cpu fallback', async () => {
    const xs = [2, 3, 7, 6], fs = [3, 3, 3, 4];
    const dyShape = [2, 4, 4, 3];
    await parity(() => run('Conv2DBackpropFilter', { x: T(xs, 3), dy: T(dyShape, 4) },
      { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', filterShape: fs }), 'NCHW');
  });

  it('DepthwiseConv2dNativeBackpropInput/Filter match cpu (strides, paddings, dilations, multipliers)', async () => {
    const cases: Array<[number[], number[], number | [number, number], Pad, number]> = [
      [[1, 7, 9, 3], [3, 3, 3, 1], 1, 'same', 1],
      [[2, 7, 9, 3], [3, 3, 3, 2], 1, 'valid', 1],
      [[2, 8, 8, 2], [3, 3, 2, 1], 2, 'same', 1],
      [[1, 9, 8, 2], [3, 3, 2, 2], 2, 'same', 1],
      [[2, 9, 7, 3], [3, 3, 3, 2], 2, 'valid', 1],
      [[1, 10, 11, 2], [5, 3, 2, 3], [3, 2], 'same', 1],
      [[1, 6, 6, 3], [2, 2, 3, 2], 2, 'same', 1],
      [[1, 9, 9, 2], [3, 3, 2, 2], 1, 'same', 2],
      [[2, 11, 10, 2], [3, 2, 2, 1], 1, 'valid', 2],
      [[1, 7, 7, 2], [3, 3, 2, 2], 2, 1, 1],
      [[1, 7, 8, 2], [3, 3, 2, 2], 1, [[0, 0], [2, 1], [0, 3], [0, 0]], 1],
      [[1, 6, 6, 1], [3, 3, 1, 1], 1, [[0, 0], [4, 0], [0, 4], [0, 0]], 1],
    ];
    for (const [xs, fs, strides, pad, dil] of cases) {
      const s = Array.isArray(strides) ? strides : [strides, strides];
      const oh = outSize(xs[1], fs[0], s[0], dil, pad, 1);
      const ow = outSize(xs[2], fs[1], s[1], dil, pad, 2);
      const dyShape = [xs[0], oh, ow, fs[2] * fs[3]];
      const attrs = { strides: s, pad, dilations: [dil, dil] };
      const label = `${xs} ${fs} s=${s} pad=${JSON.stringify(pad)} d=${dil}`;
      const input = (): tf.Tensor => run('DepthwiseConv2dNativeBackpropInput', { dy: T(dyShape, 5), filter: T(fs, 6) },
        { ...attrs, inputShape: xs });
      const filter = (): tf.Tensor => run('DepthwiseConv2dNativeBackpropFilter', { x: T(xs, 7), dy: T(dyShape, 8) },
        { ...attrs, filterShape: fs });
      if (dil === 1) {
        await parity(input, `BackpropInput ${label}`);
        await parity(filter, `BackpropFilter ${label}`);
        continue;
      }
      // The cpu kernels ignore `dilations` (tfjs's gradients never pass one > 1),
      // so the reference is the same kernel with the equivalent zero-dilated filter.
      const eff = [(fs[0] - 1) * dil + 1, (fs[1] - 1) * dil + 1, fs[2], fs[3]];
      const dilated = (): tf.Tensor => tf.tensor(dilateFilter(rand(sizeOf(fs), 6), fs, dil), eff);
      const refInput = await on('cpu', () => run('DepthwiseConv2dNativeBackpropInput', { dy: T(dyShape, 5), filter: dilated() },
        { strides: s, pad, dilations: [1, 1], inputShape: xs }));
      expectClose(await on('wasm', input), refInput, 1e-4, `BackpropInput ${label}`);
      const refFilter = await on('cpu', () => tf.stridedSlice(run('DepthwiseConv2dNativeBackpropFilter', { x: T(xs, 7), dy: T(dyShape, 8) },
        { strides: s, pad, dilations: [1, 1], filterShape: eff }), [0, 0, 0, 0], eff, [dil, dil, 1, 1]));
      expectClose(await on('wasm', filter), refFilter, 1e-4, `BackpropFilter ${label}`);
    }
  });

  const nets: Array<[string, number[], number[], Net]> = [
    ['conv2d s1 same', [2, 9, 9, 3], [3, 3, 3, 4], (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')],
    ['conv2d s1 valid', [1, 9, 8, 3], [3, 3, 3, 4], (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid')],
    ['conv2d s2 same', [2, 10, 9, 3], [3, 3, 3, 4], (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same')],
    ['conv2d s2 valid', [1, 9, 10, 2], [3, 3, 2, 5], (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'valid')],
    ['fused conv2d + bias + relu', [2, 8, 8, 3], [3, 3, 3, 4], (x, w) => tf.fused.conv2d({
      x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 2, pad: 'same', bias: tf.linspace(-0.2, 0.2, 4), activation: 'relu',
    })],
    ['depthwise m1 s1 same', [2, 9, 9, 3], [3, 3, 3, 1], (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')],
    ['depthwise m2 s2 same', [2, 9, 8, 3], [3, 3, 3, 2], (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same')],
    ['depthwise m2 s2 valid', [1, 9, 9, 2], [3, 3, 2, 2], (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'valid')],
    ['fused depthwise + bias + relu6', [1, 8, 8, 3], [3, 3, 3, 1], (x, w) => tf.fused.depthwiseConv2d({
      x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 1, pad: 'same', bias: tf.linspace(-0.1, 0.1, 3), activation: 'relu6',
    })],
    ['separableConv2d', [2, 8, 8, 3], [3, 3, 3, 2], (x, w) => tf.separableConv2d(
      x as tf.Tensor4D, w as tf.Tensor4D, tf.reshape(tf.linspace(-1, 1, 6 * 4), [1, 1, 6, 4]) as tf.Tensor4D, 1, 'same')],
    ['small net: conv s2 → relu → depthwise m2 → pointwise → mean', [2, 12, 12, 3], [3, 3, 3, 4], (x, w) => {
      let h = tf.relu(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'));
      h = tf.depthwiseConv2d(h as tf.Tensor4D, tf.reshape(tf.linspace(-0.5, 0.7, 3 * 3 * 4 * 2), [3, 3, 4, 2]) as tf.Tensor4D, 1, 'same');
      h = tf.conv2d(h as tf.Tensor4D, tf.reshape(tf.linspace(0.6, -0.4, 8 * 5), [1, 1, 8, 5]) as tf.Tensor4D, 1, 'valid');
      return tf.mean(tf.relu6(h), [1, 2]);
    }],
  ];
  for (const [label, xs, ws, net] of nets) {
    it(`tf.grad w.r.t. input and filter matches cpu: ${label}`, async () => {
      await parity(gradOf(xs, ws, net), label);
    });
  }

  it('agrees with central finite differences on a tiny depthwise conv (stride 2, multiplier 2)', async () => {
    const xs = [1, 5, 5, 2], ws = [3, 3, 2, 2];
    const xv = rand(sizeOf(xs), 21), wv = rand(sizeOf(ws), 22);
    const net = (x: tf.Tensor, w: tf.Tensor): tf.Tensor => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same');
    const rv = rand(1 * 3 * 3 * 4, 23);
    const f = (x: tf.Tensor, w: tf.Tensor): tf.Scalar => tf.sum(tf.mul(net(x, w), tf.tensor(rv, [1, 3, 3, 4])));
    expect(await tf.setBackend('wasm')).toBe(true);
    const before = tf.memory().numTensors;
    const [gx, gw] = tf.tidy(() => tf.grads(f)([tf.tensor(xv, xs), tf.tensor(wv, ws)]).map((g) => Array.from(g.dataSync())));
    const eps = 1e-2;
    const value = (x: Float32Array, w: Float32Array): number =>
      tf.tidy(() => f(tf.tensor(x, xs), tf.tensor(w, ws)).dataSync()[0]);
    const fd = (which: 'x' | 'w', i: number): number => {
      const base = which === 'x' ? xv : wv;
      const plus = base.slice(), minus = base.slice();
      plus[i] += eps; minus[i] -= eps;
      return which === 'x'
        ? (value(plus, wv) - value(minus, wv)) / (2 * eps)
        : (value(xv, plus) - value(xv, minus)) / (2 * eps);
    };
    let worst = 0;
    for (let i = 0; i < xv.length; i++) worst = Math.max(worst, Math.abs(gx[i] - fd('x', i)));
    for (let i = 0; i < wv.length; i++) worst = Math.max(worst, Math.abs(gw[i] - fd('w', i)));
    // f is linear in each argument: the difference quotient is exact up to float32 rounding of f.
    expect(worst).toBeLessThan(2e-3);
    expect(gx.some((v) => v !== 0) && gw.some((v) => v !== 0)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('UnsortedSegmentSum matches cpu (duplicates, empty segments, dropped ids, int32, rank 3)', async () => {
    const cases: Array<[number[], number[], number, 'float32' | 'int32']> = [
      [[6, 3], [0, 2, 2, 4, 0, 1], 5, 'float32'],
      [[5, 2, 3], [3, 3, 3, 0, 1], 4, 'float32'],
      [[6, 2], [1, -1, 4, 2, 7, 1], 4, 'float32'],
      [[4, 3], [2, 0, 2, 1], 3, 'int32'],
      [[4], [0, 0, 1, 0], 2, 'float32'],
    ];
    for (const [xs, ids, numSegments, dtype] of cases) {
      await parity(() => {
        const v = rand(sizeOf(xs), 31).map((a) => (dtype === 'int32' ? Math.round(a * 50) : a));
        return run('UnsortedSegmentSum', { x: tf.tensor(v, xs, dtype), segmentIds: tf.tensor1d(ids, 'int32') }, { numSegments });
      }, `UnsortedSegmentSum ${xs} ${ids} ${numSegments} ${dtype}`);
    }
    // the gradient of tf.gather is an UnsortedSegmentSum
    await parity(() => tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.gather(p, [2, 0, 2, 3]), T([4, 5], 33))))(T([4, 5], 32)), 'gather grad');
  });
});

describe('kernel bridge, fallback path', () => {
  it('bridges every gradient kernel of a backend that has none to cpu, and gradients match', async () => {
    // A backend with the cpu backend's storage but no kernels of its own: no
    // composite is possible, so every kernel is copied to the cpu backend.
    const name = 'bridge-test';
    tf.registerBackend(name, () => new MathBackendCPU(), 0);
    expect(tf.findBackend(name)).not.toBeNull();
    expect(missingKernels(name)).toEqual([...GRADIENT_KERNELS]);
    const bridged = bridgeMissingKernels(name, 'cpu');
    expect(bridged).toEqual([...GRADIENT_KERNELS]);
    expect(new Set(bridgedKernels(name).map((b) => b.implementation))).toEqual(new Set(['fallback']));
    expect(bridgeMissingKernels(name, 'cpu')).toEqual([]);
    const net = (x: tf.Tensor, w: tf.Tensor): tf.Tensor =>
      tf.mean(tf.relu(tf.depthwiseConv2d(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'),
        T([3, 3, 4, 2], 42) as tf.Tensor4D, 1, 'valid')), [1, 2]);
    await parity(gradOf([2, 10, 10, 3], [3, 3, 3, 4], net), 'fallback net', name);
    await parity(() => run('UnsortedSegmentSum', { x: T([5, 2], 41), segmentIds: tf.tensor1d([1, 1, 0, 3, -2], 'int32') },
      { numSegments: 4 }), 'fallback UnsortedSegmentSum', name);
    await tf.setBackend('cpu');
    tf.removeBackend(name);
  });
});
