// SESS around Grad-CAM on the bundled face-expression model (112×112), on one backend, in one process:
// ms per image, patch counts, forward/backward calls and the floor ratio (design.md §4), for 224×224 and
// 500×375 inputs, 6 and 12 scales, pre-filter r ∈ {0, 0.5, 0.9}; and the speed-up of batched extraction
// (batchSize 16) over one patch at a time (batchSize 1, what the reference implementation does).
// Uses the BUILT packages: run `npm run build` first.
// Usage: node bench/sess.mjs [--backend wasm|cpu] [--runs N]
// Writes bench/results/sess-<backend>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { gradCam } from '@saliency/core';
import { FACE_EXPRESSION_CLASSES } from '@saliency/models';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionClassifier, sampleFaces } from '@saliency/models';
import { sess, sessPatches, sessScales, prefilterDropCount } from '@saliency/sess';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' }, runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const BATCH = 16;
const choice = await initBackend({ prefer: values.backend, quiet: true });
const { classifier, camLayer, dispose } = await loadFaceExpressionClassifier();
const HAPPY = FACE_EXPRESSION_CLASSES.indexOf('happy');

/** Counts the model's entry points: classifier forward passes, and the layer passes Grad-CAM makes. */
function counting(c) {
  const calls = { forward: [], camForward: [], backward: [] };
  const wrapped = {
    ...c,
    preprocess: (x) => c.preprocess(x),
    layerNames: () => c.layerNames(),
    logits: (x) => { calls.forward.push(x.shape[0]); return c.logits(x); },
    probabilities: (x) => { calls.forward.push(x.shape[0]); return c.probabilities(x); },
    at: (layer) => {
      const a = c.at(layer);
      return {
        name: a.name,
        features: (x) => { calls.camForward.push(x.shape[0]); return a.features(x); },
        head: (f, x) => { calls.backward.push(f.shape[0]); return a.head(f, x); }, // head runs inside the gradient: one per backward pass
      };
    },
  };
  return { wrapped, calls };
}
const summarise = (list) => ({ calls: list.length, images: list.reduce((a, b) => a + b, 0) });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// A real photograph: face-api's sample1.jpg around its three faces, resized to each input size.
const sample = sampleFaces()[0];
const photo = await readImage(sample.path, { region: { x: 700, y: 150, width: 1200, height: 900 } });
const photoT = tf.tensor4d(Float32Array.from(photo.data), [1, photo.height, photo.width, 3]);
const inputs = [
  { label: '224x224', size: [224, 224] },
  { label: '500x375 (w×h)', size: [375, 500] },
];

/** Unit costs at full batch: one forward pass per image, and Grad-CAM per image (forward + backward). */
async function unitCosts(batch) {
  const x = tf.randomUniform([batch, 112, 112, 3], 0, 255, 'float32', 1);
  const targets = new Array(batch).fill(HAPPY);
  const fwd = [], cam = [];
  const method = gradCam({ layer: camLayer, batchSize: batch });
  for (let i = 0; i < runs + 1; i++) {
    let t0 = performance.now();
    const p = classifier.probabilities(x);
    await p.data();
    p.dispose();
    if (i > 0) fwd.push((performance.now() - t0) / batch);
    t0 = performance.now();
    const m = await method.explain(classifier, x, targets);
    await m.data();
    m.dispose();
    if (i > 0) cam.push((performance.now() - t0) / batch);
  }
  x.dispose();
  return { forwardMsPerImage: median(fwd), gradCamMsPerImage: median(cam) };
}

/** One timed SESS run; the pre-filter phase ends at its last progress report. */
async function runSess(image, scales, ratio, batchSize) {
  const { wrapped, calls } = counting(classifier);
  let prefilterEnd = 0;
  const t0 = performance.now();
  const method = sess(gradCam({ layer: camLayer, batchSize }), {
    scales, preFilterRatio: ratio, batchSize, smooth: false,
    onProgress: (p) => { if (p.phase === 'prefilter') prefilterEnd = performance.now() - t0; },
  });
  const map = await method.explain(wrapped, image, 'top');
  await map.data();
  const ms = performance.now() - t0;
  map.dispose();
  return { ms, prefilterMs: prefilterEnd, extractionMs: ms - prefilterEnd, calls };
}

async function timed(image, scales, ratio, batchSize) {
  await runSess(image, scales, ratio, batchSize); // warm-up (kernels, shapes)
  const all = [];
  for (let i = 0; i < runs; i++) all.push(await runSess(image, scales, ratio, batchSize));
  const pick = (k) => median(all.map((r) => r[k]));
  const { calls } = all[0];
  return {
    msPerImage: pick('ms'), minMs: Math.min(...all.map((r) => r.ms)), prefilterMs: pick('prefilterMs'), extractionMs: pick('extractionMs'),
    forward: summarise(calls.forward), camForward: summarise(calls.camForward), backward: summarise(calls.backward),
  };
}

const started = performance.now();
const unit = { [`batch${BATCH}`]: await unitCosts(BATCH), batch1: await unitCosts(1) };
console.log('unit costs (ms per image):', JSON.stringify(unit));
const results = [];
for (const { label, size } of inputs) {
  const image = tf.tidy(() => tf.image.resizeBilinear(photoT, size, false, true));
  for (const scales of [6, 12]) {
    const patches = sessPatches(size, { scales: sessScales(112, scales), window: [112, 112], step: [112, 112] }).length;
    for (const ratio of [0, 0.5, 0.9]) {
      const kept = patches - prefilterDropCount(patches, ratio);
      const batched = await timed(image, scales, ratio, BATCH);
      const single = await timed(image, scales, ratio, 1);
      const u = unit[`batch${BATCH}`];
      const floorMs = patches * u.forwardMsPerImage + kept * u.gradCamMsPerImage;
      const row = {
        input: label, scales, preFilterRatio: ratio, patches, kept,
        batched, oneAtATime: single,
        floorMs, floorRatio: batched.msPerImage / floorMs,
        speedup: { total: single.msPerImage / batched.msPerImage, extraction: single.extractionMs / batched.extractionMs },
      };
      results.push(row);
      console.log(`${label} n=${scales} r=${ratio}: ${patches} patches, ${kept} kept; batched ${batched.msPerImage.toFixed(0)} ms ` +
        `(pre-filter ${batched.prefilterMs.toFixed(0)}, extraction ${batched.extractionMs.toFixed(0)}; ${batched.forward.calls} forward calls, ` +
        `${batched.backward.calls} backward calls), one at a time ${single.msPerImage.toFixed(0)} ms (${single.forward.calls} / ${single.backward.calls} calls); ` +
        `floor ${floorMs.toFixed(0)} ms → ratio ${row.floorRatio.toFixed(2)}; speed-up ×${row.speedup.total.toFixed(2)} total, ×${row.speedup.extraction.toFixed(2)} extraction`);
    }
  }
  image.dispose();
}
const result = {
  model: 'face-api face-expression classifier, 112x112, Grad-CAM on dense3', backend: choice.name, tfjs: tf.version_core, cores: cpus().length,
  runs, batchSize: BATCH, smoothing: false, image: `${sample.file} region 1200x900 resized to each input`,
  unitCostsMsPerImage: unit,
  note: 'floorMs = patches × forward ms/image + kept × Grad-CAM ms/image, both at batch 16, measured in this run; oneAtATime = batchSize 1 for the pre-filter, SESS and Grad-CAM (one base-method call per patch, as the reference does).',
  results,
  totalSeconds: (performance.now() - started) / 1000,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`./results/sess-${choice.name}.json`, import.meta.url), JSON.stringify(result, null, 2) + '\n');
console.log(`wrote bench/results/sess-${choice.name}.json in ${result.totalSeconds.toFixed(0)} s`);
photoT.dispose();
dispose();
