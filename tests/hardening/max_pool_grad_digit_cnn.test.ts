/**
 * Issue 16, item 6 at model level: the vanilla gradient of the bundled digit CNN (max pools
 * on ReLU outputs) on wasm, with wasm's own MaxPoolGrad and with the replacement, against the
 * cpu backend on the same generated scenes. With the replacement, wasm equals cpu to float32
 * rounding of the convs.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { vanillaGradient } from '@saliency/core';
import { loadGeneratedClassifier, GENERATED_CNN_INPUT_SIZE } from '@saliency/models';
import { generateLocalisationSet, sampleToTensor } from '@saliency/eval';
import { registerFastBackwardKernels } from '../../packages/core/src/gradients/wasm_backward_kernels';

function compare(a: Float32Array, b: Float32Array): { maxAbs: number; r: number } {
  let maxAbs = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  const n = a.length;
  for (let i = 0; i < n; i++) {
    const x = a[i] as number, y = b[i] as number;
    maxAbs = Math.max(maxAbs, Math.abs(x - y));
    sa += x; sb += y; saa += x * x; sbb += y * y; sab += x * y;
  }
  const r = (n * sab - sa * sb) / Math.sqrt((n * saa - sa * sa) * (n * sbb - sb * sb));
  return { maxAbs, r };
}

describe('digit CNN vanilla gradient: wasm vs cpu', () => {
  it('equals cpu to float rounding with the replaced MaxPoolGrad', async () => {
    await tf.setBackend('wasm');
    const wasmOwn = tf.getKernel('MaxPoolGrad', 'wasm');
    registerFastBackwardKernels('wasm');
    const ours = tf.getKernel('MaxPoolGrad', 'wasm');
    expect(ours).not.toBe(wasmOwn);
    const { classifier, dispose } = await loadGeneratedClassifier();
    const set = generateLocalisationSet({ seed: 3, count: 4, split: 'test', size: [GENERATED_CNN_INPUT_SIZE, GENERATED_CNN_INPUT_SIZE] });
    const images = tf.stack(set.map(sampleToTensor)) as tf.Tensor4D;
    const targets = set.map((s) => s.label);
    const mapOn = async (backend: string): Promise<Float32Array> => {
      await tf.setBackend(backend);
      const m = await vanillaGradient({ aggregate: 'signed' }).explain(classifier, images, targets);
      const d = (await m.data()) as Float32Array;
      m.dispose();
      return d;
    };
    const cpu = await mapOn('cpu');
    const fixed = compare(await mapOn('wasm'), cpu);
    // wasm's own kernel, put back for one measurement.
    tf.unregisterKernel('MaxPoolGrad', 'wasm');
    tf.registerKernel(wasmOwn as tf.KernelConfig);
    let own: { maxAbs: number; r: number };
    try {
      own = compare(await mapOn('wasm'), cpu);
    } finally {
      tf.unregisterKernel('MaxPoolGrad', 'wasm');
      tf.registerKernel(ours as tf.KernelConfig);
    }
    console.log(`digit CNN signed vanilla gradient, 4 scenes: wasm's MaxPoolGrad max |Δ| ${own.maxAbs.toExponential(2)}, r ${own.r.toFixed(6)}; replaced max |Δ| ${fixed.maxAbs.toExponential(2)}, r ${fixed.r.toFixed(6)}`);
    expect(fixed.maxAbs).toBeLessThan(1e-4);
    expect(fixed.r).toBeGreaterThan(0.99999);
    images.dispose();
    dispose();
  });
});
