// WebGPU against wasm on one machine, MobileNetV2 (nsfwjs, 224×224), per image: forward (batch 32),
// input gradient (batch 8), Grad-CAM (batch 8), RISE with N masks (1 image), SESS(Grad-CAM)
// (1 photograph, the quantitative settings). Uses the BUILT packages (`npm run build` first).
//
// Usage: node bench/webgpu-figures.mjs --backend webgpu|wasm [--rise N] [--runs N] [--out FILE]
// Prints one JSON object (and writes it to FILE): the adapter (webgpu), the median ms per image
// of each row, and how many runs it is the median of. Run it once per backend, each in its own
// process (tfjs backends are process-global).
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { gradCam, inputGradient, rise, selectTargets, sess } from '@saliency/core';
import { initBackend, readImage } from '@saliency/node';
import { loadMobileNetV2Classifier, sampleFaces } from '@saliency/models';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'webgpu' },
    rise: { type: 'string', default: '4000' },
    runs: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
const riseN = Number(values.rise);
const runs = Number(values.runs);
const t0 = performance.now();
const choice = await initBackend({ prefer: values.backend, quiet: true });
const report = {
  backend: choice.name, adapter: choice.adapter ?? null, cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown',
  node: process.version, tfjs: tf.version_core, riseN, rows: {},
};
const log = (s) => console.error(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}`);
log(`backend ${choice.name}${choice.adapter ? ` on ${choice.adapter.name} (${choice.adapter.description}${choice.adapter.isCpu ? ', CPU' : ''})` : ''}`);

const { classifier, camLayer, dispose } = await loadMobileNetV2Classifier();
const img = await readImage(sampleFaces()[0].path);
const photo = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]), [224, 224], false, true));
const batch = (n) => tf.tidy(() => tf.tile(photo, [n, 1, 1, 1]));
const x8 = batch(8);
const x32 = batch(32);
const large = tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]);
const targets = (n) => Array.from({ length: n }, () => 2);

/** One warm-up (shader compilation, weight upload), then `runs` timed runs; median ms per image. */
async function row(name, images, fn, n = runs) {
  const once = async () => {
    const s = performance.now();
    const out = await fn();
    await out.data();
    out.dispose();
    return performance.now() - s;
  };
  const warm = await once();
  const ms = [];
  for (let i = 0; i < n; i++) ms.push(await once());
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)];
  report.rows[name] = { msPerImage: median / images, images, runs: n, warmupMs: warm };
  log(`${name}: ${(median / images).toFixed(1)} ms per image (batch ${images}, median of ${n}; warm-up ${warm.toFixed(0)} ms)`);
}

await row('forward', 32, async () => tf.tidy(() => classifier.logits(x32)));
await row('inputGradient', 8, async () => inputGradient((x) => selectTargets(classifier.logits(x), targets(x.shape[0])), x8));
await row('gradCam', 8, () => gradCam({ layer: camLayer }).explain(classifier, x8, targets(8)));
await row(`rise${riseN}`, 1, () => rise({ n: riseN, batchSize: 64, seed: 1 }).explain(classifier, photo, [2]), 1);
await row('sessGradCam', 1, () => sess(gradCam({ layer: camLayer }), { scales: 10, preFilterRatio: 0.9, smooth: false, batchSize: 16 })
  .explain(classifier, large, [2]), 1);

tf.dispose([photo, x8, x32, large]);
dispose();
report.totalSeconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify(report, null, 2));
if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
