// Where the time of an input gradient goes: `tf.profile` of one forward pass and one
// input gradient (@saliency's inputGradient, one-hot class mask) of MobileNetV2 (nsfwjs,
// 224×224) and of face-api's face-expression model (112×112), batch 1, aggregated per
// kernel name (time, calls, share). Kernels that our composites build from other kernels
// are timed as one kernel (their inner kernels do not go through the engine). tfjs records
// its fused ops' custom-gradient scopes (`fusedConv2d__op`, …) as kernels too, around the
// fused kernel they run: those are marked `nested` and left out of the totals and shares.
// Usage: node bench/profile-gradient.mjs [--backend wasm|cpu] [--runs N] [--out path]
// Writes bench/results/profile-gradient-<backend>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { inputGradient, selectTargets } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { loadFaceExpressionClassifier, loadMobileNetV2Classifier } from '@saliency/models';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    runs: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
const runs = Number(values.runs);
const choice = await initBackend({ prefer: values.backend, quiet: true });

/** Aggregates the kernels of one tf.profile run: name → {ms, calls}. */
function aggregate(info) {
  const by = new Map();
  for (const k of info.kernels) {
    const e = by.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    e.calls += 1;
    by.set(k.name, e);
  }
  return by;
}

/** Median over runs of each kernel's summed time (and wall time), warm-up excluded. */
async function profileMedian(label, fn) {
  const perRun = [];
  const walls = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    let out;
    const info = await tf.profile(() => { out = fn(); return out; });
    await out.data();
    const wall = performance.now() - t0;
    out.dispose();
    if (i === 0) continue; // warm-up
    perRun.push(aggregate(info));
    walls.push(wall);
  }
  const names = new Set(perRun.flatMap((m) => [...m.keys()]));
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const kernels = [...names].map((name) => ({
    name,
    ms: med(perRun.map((m) => m.get(name)?.ms ?? 0)),
    calls: perRun[0].get(name)?.calls ?? 0,
  })).sort((a, b) => b.ms - a.ms);
  const nested = (k) => k.name.endsWith('__op');
  for (const k of kernels) if (nested(k)) k.nested = true;
  const own = kernels.filter((k) => !nested(k));
  const total = own.reduce((s, k) => s + k.ms, 0);
  for (const k of own) k.share = k.ms / total;
  const result = { label, wallMs: med(walls), kernelMsTotal: total, kernelCalls: own.reduce((s, k) => s + k.calls, 0), kernels };
  console.log(`\n${label}: wall ${result.wallMs.toFixed(0)} ms, kernels ${total.toFixed(0)} ms in ${result.kernelCalls} calls`);
  for (const k of kernels.slice(0, 15)) {
    const share = k.nested ? ' (nested)' : `${(100 * k.share).toFixed(1).padStart(5)}%`;
    console.log(`  ${k.name.padEnd(38)} ${k.ms.toFixed(1).padStart(8)} ms ${String(k.calls).padStart(5)} calls ${share}`);
  }
  return result;
}

const models = [
  { name: 'MobileNetV2 (nsfwjs) 224x224', load: loadMobileNetV2Classifier, size: 224, target: 2 },
  { name: 'face expression (face-api) 112x112', load: loadFaceExpressionClassifier, size: 112, target: 1 },
];
const results = [];
for (const m of models) {
  const { classifier, dispose } = await m.load();
  const x = tf.randomUniform([1, m.size, m.size, 3], 0, 255, 'float32', 1);
  const f = (xi) => selectTargets(classifier.logits(xi), [m.target]);
  const forward = await profileMedian(`${m.name} forward`, () => tf.tidy(() => classifier.logits(x)));
  const gradient = await profileMedian(`${m.name} input gradient`, () => inputGradient(f, x));
  results.push({ model: m.name, forward, gradient, ratio: gradient.wallMs / forward.wallMs });
  x.dispose();
  dispose();
}
const report = { backend: choice.name, tfjs: tf.version_core, cores: cpus().length, runs, batch: 1, results };
const out = values.out ?? new URL(`./results/profile-gradient-${choice.name}.json`, import.meta.url);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
console.log(`\nratios gradient/forward: ${results.map((r) => `${r.model}: ${r.ratio.toFixed(1)}`).join('; ')}`);
