/**
 * Issue 16, item 6: tfjs-backend-wasm 4.22's MaxPoolGrad starts from the smallest POSITIVE
 * float (a window whose values are all ≤ 0 gets no gradient) and sends a tied maximum's
 * gradient to the LAST tied element (cpu and torch: the first). The library replaces it on
 * wasm (registerFastBackwardKernels, which every gradient method calls) with a kernel that
 * equals the cpu backend's bit for bit: signed inputs, ties, all-negative windows, strides,
 * paddings.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerFastBackwardKernels } from '../../packages/core/src/gradients/wasm_backward_kernels';
import { rng } from '../setup_cpu';
import { dataIds } from '../core/kernel_inputs';

/** The input gradient of Σ w·maxPool(x) on `backend`, checking nothing is left behind. */
async function poolGrad(backend: string, x: Float32Array, shape: [number, number, number, number], w: Float32Array,
  filter: number | [number, number], stride: number | [number, number], pad: 'valid' | 'same' | number): Promise<{ values: number[]; outShape: number[] }> {
  expect(await tf.setBackend(backend)).toBe(true);
  const tensors = tf.memory().numTensors, ids = dataIds(backend);
  const xt = tf.tensor4d(x, shape);
  const outShape = tf.tidy(() => tf.maxPool(xt, filter, stride, pad, typeof pad === 'number' ? 'floor' : undefined).shape);
  const wt = tf.tensor(w.subarray(0, outShape.reduce((a, b) => a * b, 1)), outShape);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, filter, stride, pad, typeof pad === 'number' ? 'floor' : undefined), wt)))(xt);
  const values = Array.from(await g.data());
  tf.dispose([xt, wt, g]);
  expect(tf.memory().numTensors).toBe(tensors);
  expect(dataIds(backend)).toBe(ids);
  return { values, outShape };
}

const kinds: Record<string, (r: () => number) => number> = {
  signed: (r) => 2 * r() - 1,
  ties: (r) => Math.floor(3 * r()) - 1, // −1, 0, 1: many tied maxima, many windows with max ≤ 0
  negative: (r) => -1 - r(), // every window's max < 0
  zeros: () => 0, // every element tied
};

describe('MaxPoolGrad on wasm equals the cpu backend exactly', () => {
  beforeAll(async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const done = registerFastBackwardKernels('wasm');
    expect(done.replaced).toContain('MaxPoolGrad');
  });

  const shapes: [number, number, number, number][] = [[2, 7, 6, 3], [1, 9, 9, 2]];
  const configs: { filter: number | [number, number]; stride: number | [number, number]; pad: 'valid' | 'same' | number }[] = [
    { filter: 2, stride: 2, pad: 'valid' },
    { filter: 3, stride: 1, pad: 'same' },
    { filter: 3, stride: 2, pad: 'same' },
    { filter: [3, 2], stride: [2, 1], pad: 'valid' },
    { filter: 3, stride: 3, pad: 1 },
    { filter: 2, stride: 1, pad: 'valid' },
  ];
  for (const [kind, gen] of Object.entries(kinds)) {
    it(`${kind} inputs, every stride and padding`, async () => {
      let seed = 1;
      for (const shape of shapes) {
        for (const c of configs) {
          const r = rng(seed++);
          const n = shape.reduce((a, b) => a * b, 1);
          const x = Float32Array.from({ length: n }, () => gen(r));
          const w = Float32Array.from({ length: n }, () => 2 * r() - 1);
          const cpu = await poolGrad('cpu', x, shape, w, c.filter, c.stride, c.pad);
          const wasm = await poolGrad('wasm', x, shape, w, c.filter, c.stride, c.pad);
          const label = `${kind} ${shape} ${JSON.stringify(c)}`;
          expect(wasm.outShape, label).toEqual(cpu.outShape);
          expect(wasm.values, label).toEqual(cpu.values);
          // The truth the cpu backend implements: each window's FIRST maximum takes its weight.
          if (kind !== 'zeros') expect(cpu.values.some((v) => v !== 0), label).toBe(true);
        }
      }
    });
  }

  it('a tied window sends its gradient to the first maximum; an all-negative window still gets one', async () => {
    // One 2×2 window [[−3, −1], [−1, −2]]: the maximum −1 is tied; the first (row-major) takes it.
    const x = Float32Array.from([-3, -1, -1, -2]);
    const w = Float32Array.from([1]);
    for (const backend of ['cpu', 'wasm']) {
      const g = await poolGrad(backend, x, [1, 2, 2, 1], w, 2, 2, 'valid');
      expect(g.values, backend).toEqual([0, 1, 0, 0]);
    }
  });
});
