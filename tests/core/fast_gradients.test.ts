import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromLayersModel, inputGradient, selectTargets, withFastGradients } from '@saliency/core';
import { seeded, useCpu } from '../setup_cpu';

beforeAll(useCpu);

function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1, tf.max(tf.abs(b)).dataSync()[0]));
}

/** Layers model whose Conv2D (linear, with bias) and Dense layers run tfjs's fused kernels. */
function fusedNet() {
  const input = tfl.input({ shape: [12, 12, 3] });
  let h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', name: 'conv_linear', kernelInitializer: tfl.initializers.randomNormal({ seed: 1, stddev: 0.3 }), biasInitializer: tfl.initializers.randomNormal({ seed: 2 }) }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.reLU({ maxValue: 6 }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'valid', depthMultiplier: 2, depthwiseInitializer: tfl.initializers.randomNormal({ seed: 3, stddev: 0.3 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 6, kernelSize: 1, name: 'conv_relu', activation: 'relu', kernelInitializer: tfl.initializers.randomNormal({ seed: 4, stddev: 0.3 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.flatten().apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 4, kernelInitializer: tfl.initializers.randomNormal({ seed: 5, stddev: 0.3 }), biasInitializer: 'ones' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

async function kernelsRun(f: () => tf.Tensor): Promise<string[]> {
  const info = await tf.profile(() => f());
  const names = info.kernelNames;
  (info.result as tf.Tensor).dispose();
  return names;
}

describe('fast gradients through fused kernels', () => {
  it('layers model: input gradient equals tfjs own gradient, without computing filter gradients', async () => {
    const model = fusedNet();
    const c = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([3, 12, 12, 3], 7) as tf.Tensor4D;
    const f = (xi: tf.Tensor4D) => selectTargets(c.logits(xi), [0, 1, 3]);
    const plain = tf.tidy(() => tf.grad(f as (x: tf.Tensor) => tf.Tensor)(x));
    const before = tf.memory().numTensors;
    const fast = inputGradient(f, x);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(relDiff(fast, plain)).toBeLessThan(1e-5);
    expect(tf.tidy(() => tf.max(tf.abs(plain)).dataSync()[0])).toBeGreaterThan(0);
    const slow = await kernelsRun(() => tf.grad(f as (x: tf.Tensor) => tf.Tensor)(x));
    const quick = await kernelsRun(() => inputGradient(f, x));
    expect(slow).toContain('Conv2DBackpropFilter');
    expect(quick).not.toContain('Conv2DBackpropFilter');
    expect(quick).toContain('Conv2DBackpropInput');
    tf.dispose([x, plain, fast]);
    model.dispose();
  });

  it.each([
    { name: 'conv2d stride 1 same', stride: 1, pad: 'same' as const },
    { name: 'conv2d stride 2 valid', stride: 2, pad: 'valid' as const },
    { name: 'conv2d stride 2 same', stride: 2, pad: 'same' as const },
  ])('fused $name: gradients of x, filter and bias equal tfjs own', ({ stride, pad }) => {
    const x = seeded([2, 9, 7, 3], 11, -1, 1);
    const w = seeded([3, 3, 3, 4], 12, -1, 1) as tf.Tensor4D;
    const b = seeded([4], 13, -1, 1);
    const f = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) =>
      tf.sum(tf.mul(tf.fused.conv2d({ x: xi as tf.Tensor4D, filter: wi as tf.Tensor4D, bias: bi, strides: stride, pad }), tf.range(1, 5)));
    const want = tf.grads(f)([x, w, b]);
    const got = withFastGradients(() => tf.grads(f)([x, w, b]));
    want.forEach((g, i) => expect(relDiff(got[i], g)).toBeLessThan(1e-5));
    tf.dispose([x, w, b, ...want, ...got]);
  });

  it('fused depthwise conv and fused matMul (with relu) match tfjs own gradients', () => {
    const x = seeded([2, 8, 8, 3], 21, -1, 1);
    const w = seeded([3, 3, 3, 2], 22, -1, 1) as tf.Tensor4D;
    const b = seeded([6], 23, -1, 1);
    const m = seeded([6, 5], 24, -1, 1) as tf.Tensor2D;
    const mb = seeded([5], 25, -1, 1);
    const f = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor, mi: tf.Tensor, mbi: tf.Tensor) => {
      const d = tf.fused.depthwiseConv2d({ x: xi as tf.Tensor4D, filter: wi as tf.Tensor4D, bias: bi, strides: 2, pad: 'same' });
      const pooled = tf.mean(d, [1, 2]) as tf.Tensor2D;
      return tf.sum(tf.fused.matMul({ a: pooled, b: mi as tf.Tensor2D, bias: mbi, activation: 'relu' }));
    };
    const want = tf.grads(f)([x, w, b, m, mb]);
    const got = withFastGradients(() => tf.grads(f)([x, w, b, m, mb]));
    want.forEach((g, i) => expect(relDiff(got[i], g)).toBeLessThan(1e-5));
    // Transposed matMul variants.
    for (const [tA, tB] of [[true, false], [false, true], [true, true]] as const) {
      const a = seeded(tA ? [6, 3] : [3, 6], 31, -1, 1) as tf.Tensor2D;
      const bb = seeded(tB ? [5, 6] : [6, 5], 32, -1, 1) as tf.Tensor2D;
      const g = (ai: tf.Tensor, bi: tf.Tensor) =>
        tf.sum(tf.mul(tf.fused.matMul({ a: ai as tf.Tensor2D, b: bi as tf.Tensor2D, transposeA: tA, transposeB: tB, bias: mb }), tf.range(0, 5)));
      const w2 = tf.grads(g)([a, bb]);
      const g2 = withFastGradients(() => tf.grads(g)([a, bb]));
      w2.forEach((t, i) => expect(relDiff(g2[i], t)).toBeLessThan(1e-5));
      tf.dispose([a, bb, ...w2, ...g2]);
    }
    tf.dispose([x, w, b, m, mb, ...want, ...got]);
  });

  it('restores tfjs state even when the wrapped function throws', () => {
    const eng = tf.engine() as unknown as Record<string, unknown>;
    expect(Object.prototype.hasOwnProperty.call(eng, 'runKernel')).toBe(false);
    expect(() => withFastGradients(() => { throw new Error('boom'); })).toThrow('boom');
    expect(Object.prototype.hasOwnProperty.call(eng, 'runKernel')).toBe(false);
    expect(tf.getGradient('fusedConv2d__op')).toBeUndefined();
    expect(tf.getGradient('fusedDepthwiseConv2d__op')).toBeUndefined();
    expect(tf.getGradient('fusedMatMul__op')).toBeUndefined();
  });
});
