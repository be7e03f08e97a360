/** The metrics give the cpu backend's numbers on wasm (the default Node backend), on a small conv net. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromLayersModel } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { insertionDeletion, saliencyMetricBoxes } from '@saliency/metrics';
import { rng } from '../setup_cpu';

beforeAll(async () => {
  expect((await initBackend({ prefer: 'wasm', quiet: true })).name).toBe('wasm');
});

function net(): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 3] });
  let h = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.randomNormal({ seed: 1, stddev: 0.6 }) }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.randomNormal({ seed: 2, stddev: 0.6 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 4, kernelInitializer: tfl.initializers.randomNormal({ seed: 3, stddev: 1 }) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

describe('backend parity', () => {
  it('insertionDeletion and saliencyMetricBoxes: wasm equals cpu (identical inputs at the input size)', async () => {
    const r = rng(4);
    const img = Float32Array.from({ length: 16 * 16 * 3 }, () => 255 * r());
    const map = Float32Array.from({ length: 16 * 16 }, () => r());
    const boxes = [{ x: 2, y: 3, width: 9, height: 7 }, { x: 0, y: 0, width: 16, height: 16 }];
    const results = [];
    let target = -1;
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      const model = net();
      const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 255], mean: 127.5, std: 127.5 } });
      const x = tf.tensor3d(img, [16, 16, 3]);
      const m = tf.tensor2d(map, [16, 16]);
      if (target < 0) target = tf.tidy(() => tf.argMax(classifier.logits(tf.expandDims(x, 0) as tf.Tensor4D), 1).dataSync()[0]); // the top class, on cpu
      const before = tf.memory().numTensors;
      const id = await insertionDeletion(classifier, x, m, target, { step: 10, batchSize: 7 });
      const sm = await saliencyMetricBoxes(classifier, x, boxes, target);
      expect(tf.memory().numTensors).toBe(before);
      results.push({ id, sm });
      tf.dispose([x, m]);
      model.dispose();
    }
    const [cpu, wasm] = results;
    const diff = Math.max(
      ...cpu.id.curves.insertion.map((p, k) => Math.abs(p - wasm.id.curves.insertion[k])),
      ...cpu.id.curves.deletion.map((p, k) => Math.abs(p - wasm.id.curves.deletion[k])),
      ...cpu.sm.map((s, k) => Math.abs(s.probability - wasm.sm[k].probability)),
    );
    console.log(`wasm vs cpu: max |Δp| ${diff.toExponential(2)}; class ${target}: cpu insertion ${cpu.id.insertion.toFixed(4)} deletion ${cpu.id.deletion.toFixed(4)}`);
    expect(diff).toBeLessThan(1e-5);
    expect(cpu.id.curves.insertion.length).toBe(Math.ceil(256 / 10) + 1);
    // the curves are not flat: the check compares something
    expect(Math.max(...cpu.id.curves.deletion) - Math.min(...cpu.id.curves.deletion)).toBeGreaterThan(0.05);
  });
});
