// Measures one input-gradient of nsfwjs's MobileNetV2 (224×224, batch 1) through tfjs's own
// gradients of its fused kernels versus @saliency's fast path, on one backend, in one process.
// Usage: node bench/gradient-paths.mjs [--backend cpu|wasm] [--runs N]
// Writes bench/results/gradient-paths-<backend>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { inputGradient, selectTargets } from '@saliency/core';
import { initBackend, loadMobileNetV2Classifier } from '@saliency/node';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'cpu' }, runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const choice = await initBackend({ prefer: values.backend, quiet: true });
const { classifier, dispose } = await loadMobileNetV2Classifier();
const x = tf.randomUniform([1, 224, 224, 3], 0, 255, 'float32', 1);
const f = (xi) => selectTargets(classifier.logits(xi), [2]);

async function time(label, g) {
  const ms = [];
  let last = null;
  for (let i = 0; i < runs + 1; i++) { // first run is warm-up
    const t0 = performance.now();
    const out = g();
    await out.data();
    const dt = performance.now() - t0;
    if (i > 0) ms.push(dt);
    last?.dispose();
    last = out;
    console.log(`${label} run ${i}${i === 0 ? ' (warm-up)' : ''}: ${dt.toFixed(0)} ms`);
  }
  ms.sort((a, b) => a - b);
  return { last, median: ms[Math.floor(ms.length / 2)], min: ms[0], max: ms[ms.length - 1] };
}

const fwd = await time('forward', () => tf.tidy(() => classifier.logits(x)));
const fast = await time('fast path', () => inputGradient(f, x));
const fused = await time('tfjs fused gradients', () => tf.tidy(() => tf.grad(f)(x)));
const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(fast.last, fused.last))).dataSync()[0] / tf.max(tf.abs(fused.last)).dataSync()[0]);
const result = {
  model: 'nsfwjs MobileNetV2 224x224, batch 1', backend: choice.name, tfjs: tf.version_core, cores: cpus().length, runs,
  forwardMs: fwd.median,
  fusedGradientMs: { median: fused.median, min: fused.min, max: fused.max },
  fastGradientMs: { median: fast.median, min: fast.min, max: fast.max },
  speedup: fused.median / fast.median,
  maxRelativeDifference: diff,
};
console.log(JSON.stringify(result, null, 2));
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`./results/gradient-paths-${choice.name}.json`, import.meta.url), JSON.stringify(result, null, 2) + '\n');
tf.dispose([x, fwd.last, fast.last, fused.last]);
dispose();
