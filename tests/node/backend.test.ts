import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers tfjs's gradient functions
import { describe, expect, it } from 'vitest';
import { SaliencyError } from '@saliency/core/base';
import { initBackend, type BackendChoice } from '../../packages/node/src/backend';

/** Gradient through a depthwise conv (multiplier 2, stride 2) and a fused conv: needs all bridged kernels on wasm. */
function depthwiseGrad(): { values: number[]; leaked: number } {
  const before = tf.memory().numTensors;
  const values = tf.tidy(() => {
    const x = tf.reshape(tf.linspace(-1, 1, 2 * 9 * 9 * 3), [2, 9, 9, 3]) as tf.Tensor4D;
    const w = tf.reshape(tf.linspace(0.5, -0.5, 3 * 3 * 3 * 2), [3, 3, 3, 2]) as tf.Tensor4D;
    const pw = tf.reshape(tf.linspace(-0.3, 0.4, 6 * 4), [1, 1, 6, 4]) as tf.Tensor4D;
    const f = (v: tf.Tensor): tf.Scalar => {
      const h = tf.depthwiseConv2d(v as tf.Tensor4D, w, 2, 'same');
      const y = tf.fused.conv2d({ x: h, filter: pw, strides: 1, pad: 'valid', bias: tf.ones([4]), activation: 'relu' });
      return tf.sum(tf.mul(y, tf.linspace(1, 2, 4)));
    };
    return Array.from(tf.grad(f)(x).dataSync());
  });
  return { values, leaked: tf.memory().numTensors - before };
}

describe('initBackend (Node)', () => {
  let choice: BackendChoice;

  it('without the native packages, picks wasm and says why each native package was skipped', async () => {
    choice = await initBackend({ quiet: true });
    expect(choice.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.via).toBe('@tensorflow/tfjs-backend-wasm');
    expect(choice.skipped.map((s) => [s.backend, s.package])).toEqual([
      ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu'],
      ['webgpu', 'webgpu'],
      ['tensorflow', '@tensorflow/tfjs-node'],
    ]);
    for (const s of choice.skipped.filter((k) => k.backend !== 'webgpu')) {
      expect(s.reason).toMatch(/^not installed \(/);
      expect(s.reason).toContain(s.package);
    }
    // WebGPU over Dawn: this machine has no GPU, only Mesa's lavapipe (a CPU device, slower than wasm),
    // or no Vulkan driver at all (tests/node/webgpu.test.ts requires lavapipe).
    expect(choice.skipped[1].reason).toMatch(/^the WebGPU adapter is '.+', a CPU device \(slower than wasm\)|^no WebGPU adapter/);
    expect([...choice.bridgedKernels].sort()).toEqual([
      'Conv2DBackpropFilter',
      'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
      'UnsortedSegmentSum',
    ]);
    // a 'tensorflow' backend was never left registered
    expect(tf.findBackendFactory('tensorflow')).toBeNull();
  });

  it('a tf.grad through a depthwise conv works on the chosen backend and matches cpu', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const wasm = depthwiseGrad();
    expect(wasm.leaked).toBe(0);
    expect(await tf.setBackend('cpu')).toBe(true);
    const cpu = depthwiseGrad();
    expect(wasm.values.length).toBe(cpu.values.length);
    expect(cpu.values.some((v) => v !== 0)).toBe(true);
    let worst = 0;
    wasm.values.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - cpu.values[i]) / Math.max(1, Math.abs(cpu.values[i]))); });
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  it('a second call is idempotent: wasm again, nothing left to bridge', async () => {
    const again = await initBackend();
    expect(again.name).toBe('wasm');
    expect(again.bridgedKernels).toEqual([]);
    expect(again.skipped.length).toBe(3);
  });

  it("prefer: 'cpu' gives cpu, with nothing skipped", async () => {
    const c = await initBackend({ prefer: 'cpu' });
    expect(c).toEqual({ name: 'cpu', via: '@tensorflow/tfjs-backend-cpu', skipped: [], bridgedKernels: [] });
    expect(tf.getBackend()).toBe('cpu');
    expect(depthwiseGrad().leaked).toBe(0);
  });

  it("prefer: 'wasm' gives wasm", async () => {
    const c = await initBackend({ prefer: 'wasm' });
    expect(c.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it("prefer: 'tensorflow' / 'tensorflow-gpu' throw BACKEND_UNAVAILABLE and leave the backend as it was", async () => {
    for (const prefer of ['tensorflow', 'tensorflow-gpu'] as const) {
      const err = await initBackend({ prefer }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(SaliencyError);
      expect((err as SaliencyError).code).toBe('BACKEND_UNAVAILABLE');
      expect((err as SaliencyError).message).toContain(prefer === 'tensorflow' ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs-node-gpu');
      expect((err as SaliencyError).message).toContain('not installed');
      expect(tf.getBackend()).toBe('wasm');
    }
  });

  it('rejects an unknown prefer with BAD_OPTION', async () => {
    const err = await initBackend({ prefer: 'webgl' as unknown as 'cpu' }).then(() => null, (e: unknown) => e);
    expect((err as SaliencyError).code).toBe('BAD_OPTION');
  });

  it('rejects a wasmThreads that is not a boolean or 1–8 with BAD_OPTION, before loading anything', async () => {
    for (const bad of [0, 9, 2.5, 'yes' as unknown as number]) {
      await expect(initBackend({ wasmThreads: bad })).rejects.toMatchObject({ code: 'BAD_OPTION', message: expect.stringContaining('wasmThreads') });
    }
  });
});
