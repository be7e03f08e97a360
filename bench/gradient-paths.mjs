// Input gradient versus forward pass, batch 1, for nsfwjs's MobileNetV2 (224×224) and
// face-api's face-expression model (112×112), on one backend, in one process:
//  - forward: classifier.logits(x);
//  - tfjs: tfjs's own gradients (tf.grad) with only the kernels wasm lacks bridged (what
//    initBackend registers), measured FIRST, before anything registers the faster kernels;
//  - fast: @saliency's inputGradient (fast fused-op gradients, faster batch-norm/ReLU6/pad
//    gradients, the faster wasm backward kernels it registers on first use).
// Runs are interleaved (forward, fast, forward, fast, …) after one warm-up each, so that the
// load of other processes hits both alike; medians and minimums are reported, and the ratio
// gradient / forward three ways: of the medians, of the minimums, and `ratioPaired`, the median
// over rounds of gradient / forward measured back to back (the steadiest on a loaded machine).
// The face model, ~10× cheaper, runs 3× as many rounds.
// Usage: node bench/gradient-paths.mjs [--backend cpu|wasm] [--runs N] [--threads N] [--models mobilenet,face] [--skip-tfjs]
//   --threads N: wasm only, run the threaded wasm build with N threads (enableWasmThreads).
//   --skip-tfjs: do not time tfjs's own gradients (they take ~15× longer).
// Writes bench/results/gradient-paths-<backend>[-threads<N>].json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { inputGradient, selectTargets } from '@saliency/core';
import * as node from '@saliency/node';
import * as models from '@saliency/models';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    runs: { type: 'string', default: '7' },
    threads: { type: 'string' },
    models: { type: 'string', default: 'mobilenet,face' },
    'skip-tfjs': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const threadsAsked = values.threads == null ? null : Number(values.threads);
let threads = null;
if (threadsAsked != null) {
  const enable = node.enableWasmThreads
    // not yet exported from @saliency/node: the source (works under vite-node only)
    ?? (await import('../packages/node/src/wasm_threads.ts')).enableWasmThreads;
  threads = await enable({ threads: threadsAsked });
  console.log('wasm threads:', threads);
}
const choice = await node.initBackend({ prefer: values.backend, quiet: true });

const MODELS = {
  mobilenet: { name: 'nsfwjs MobileNetV2 224x224', load: models.loadMobileNetV2Classifier, size: 224, target: 2 },
  face: { name: 'face-api face expression 112x112', load: models.loadFaceExpressionClassifier, size: 112, target: 1, roundsFactor: 3 },
};
const models = values.models.split(',').map((m) => MODELS[m.trim()]);

const stats = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
};

async function once(g) {
  const t0 = performance.now();
  const out = g();
  await out.data();
  return { ms: performance.now() - t0, out };
}

/** Interleaved timing of several functions: one warm-up each, then `rounds` rounds. */
async function timeInterleaved(fns, rounds = runs) {
  const ms = fns.map(() => []);
  const last = fns.map(() => null);
  for (let r = 0; r <= rounds; r++) {
    for (let k = 0; k < fns.length; k++) {
      const { ms: dt, out } = await once(fns[k]);
      if (r > 0) ms[k].push(dt);
      last[k]?.dispose();
      last[k] = out;
    }
  }
  return { stats: ms.map(stats), last, raw: ms };
}

function relDiff(a, b) {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
}

const loaded = [];
for (const m of models) {
  const { classifier, dispose } = await m.load();
  const x = tf.randomUniform([1, m.size, m.size, 3], 0, 255, 'float32', 1);
  const f = (xi) => selectTargets(classifier.logits(xi), [m.target]);
  loaded.push({ m, classifier, dispose, x, f });
}

// 1. tfjs's own gradients, before anything registers the faster kernels.
for (const l of values['skip-tfjs'] ? [] : loaded) {
  const { stats: [fwd, tfjs], last } = await timeInterleaved([
    () => tf.tidy(() => l.classifier.logits(l.x)),
    () => tf.tidy(() => tf.grad(l.f)(l.x)),
  ]); // tfjs's gradients are slow: `runs` rounds for every model
  l.before = { forward: fwd, gradient: tfjs };
  l.tfjsGrad = last[1];
  last[0].dispose();
  console.log(`${l.m.name}: tfjs gradients: forward ${fwd.median.toFixed(1)} ms, gradient ${tfjs.median.toFixed(1)} ms (min ${fwd.min.toFixed(1)} / ${tfjs.min.toFixed(1)})`);
}

// 2. @saliency's inputGradient.
const results = [];
for (const l of loaded) {
  const rounds = runs * (l.m.roundsFactor ?? 1);
  const { stats: [fwd, fast], last, raw } = await timeInterleaved([
    () => tf.tidy(() => l.classifier.logits(l.x)),
    () => inputGradient(l.f, l.x),
  ], rounds);
  const paired = stats(raw[1].map((g, i) => g / raw[0][i])).median;
  const r = {
    model: l.m.name,
    rounds,
    forwardMs: fwd,
    fastGradient: { ms: fast, ratioMedian: fast.median / fwd.median, ratioMin: fast.min / fwd.min, ratioPaired: paired },
  };
  if (l.before != null) {
    r.tfjsGradient = { ms: l.before.gradient, forwardMs: l.before.forward, ratioMedian: l.before.gradient.median / l.before.forward.median };
    r.speedup = l.before.gradient.median / fast.median;
    r.maxRelativeDifference = relDiff(last[1], l.tfjsGrad);
  }
  console.log(`${l.m.name}: forward ${fwd.median.toFixed(1)} ms, fast gradient ${fast.median.toFixed(1)} ms `
    + `(ratio ${r.fastGradient.ratioMedian.toFixed(2)} of medians, ${r.fastGradient.ratioMin.toFixed(2)} of minimums, ${paired.toFixed(2)} paired)`
    + (l.before == null ? '' : `; tfjs ${l.before.gradient.median.toFixed(1)} ms (ratio ${r.tfjsGradient.ratioMedian.toFixed(2)}); max rel diff ${r.maxRelativeDifference.toExponential(2)}`));
  results.push(r);
  tf.dispose([...last, l.x]);
  l.tfjsGrad?.dispose();
  l.dispose();
}

const report = {
  backend: choice.name,
  threads: threads == null ? 1 : threads.threads,
  tfjs: tf.version_core,
  cores: cpus().length,
  loadAverageAtEnd: loadavg().map((v) => Number(v.toFixed(2))),
  batch: 1,
  runs,
  results,
};
console.log(JSON.stringify(report, null, 2));
const suffix = (threads?.enabled ? `-threads${threads.threads}` : '') + (values['skip-tfjs'] ? '-fast-only' : '');
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`./results/gradient-paths-${choice.name}${suffix}.json`, import.meta.url), JSON.stringify(report, null, 2) + '\n');
