#!/usr/bin/env node
// Cost per image and peak tensor memory per batch size, for choosing the methods' default
// `batchSize` (issue 18 part 4). --pass forward (default): `classifier.logits` on a batch;
// --pass gradient: the vanilla gradient method with `batchSize` = the batch (input gradients on a
// tape); --pass gradcam: Grad-CAM likewise (gradients at the CAM layer). Batch sizes are timed in
// interleaved rounds (so a change of machine load hits them all alike); peak = tf.profile's
// peakBytes above the bytes held before.
//
//   npm run build && node bench/batch-sizes.mjs [--models face,mobilenet] [--batches 8,16,32,64] [--rounds 3] [--backend wasm] [--pass forward|gradient|gradcam]
//
// Writes bench/results/<YYYY-MM-DD>-batch-sizes-<backend>[-<pass>].json and prints a markdown table.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { gradCam, vanillaGradient } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { loadFaceExpressionClassifier, loadMobileNetV2Classifier } from '@saliency/models';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string', default: 'face,mobilenet' },
    batches: { type: 'string', default: '1,8,16,32,64' },
    rounds: { type: 'string', default: '3' },
    backend: { type: 'string', default: 'wasm' },
    pass: { type: 'string', default: 'forward' },
  },
});
const backend = await initBackend({ prefer: args.backend, quiet: true });
const batches = args.batches.split(',').map(Number);
const rounds = Number(args.rounds);
if (!['forward', 'gradient', 'gradcam'].includes(args.pass)) throw new Error(`--pass forward|gradient|gradcam, got ${args.pass}`);
const loaders = { face: loadFaceExpressionClassifier, mobilenet: loadMobileNetV2Classifier };
const rows = [];
for (const name of args.models.split(',')) {
  const { classifier, dispose } = await loaders[name]();
  const [h, w] = classifier.inputSize;
  const times = new Map(batches.map((b) => [b, []]));
  const peaks = new Map();
  const loads = [];
  for (let r = -1; r < rounds; r++) { // round -1 warms every batch size up
    for (const b of batches) {
      const x = tf.randomUniform([b, h, w, 3], 0, 255, 'float32', 1);
      const targets = Array.from({ length: b }, (_, i) => i % classifier.numClasses);
      const method = args.pass === 'gradient' ? vanillaGradient({ batchSize: b }) : args.pass === 'gradcam' ? gradCam({ batchSize: b }) : null;
      const run = async () => {
        const y = method == null ? classifier.logits(x) : await method.explain(classifier, x, targets);
        await y.data();
        y.dispose();
      };
      if (r === 0) {
        const held = tf.memory().numBytes;
        const prof = await tf.profile(run);
        peaks.set(b, (prof.peakBytes - held) / b / 2 ** 20);
      }
      const t0 = performance.now();
      await run();
      if (r >= 0) times.get(b).push((performance.now() - t0) / b);
      x.dispose();
    }
    loads.push(loadavg()[0]);
  }
  for (const b of batches) {
    const t = [...times.get(b)].sort((p, q) => p - q);
    rows.push({ model: name, batch: b, msPerImage: t[Math.floor(t.length / 2)], minMsPerImage: t[0], peakMiBPerImage: peaks.get(b) });
  }
  console.error(`${name}: load ${loads.map((l) => l.toFixed(1)).join(' ')}`);
  dispose();
}
const date = new Date().toISOString().slice(0, 10);
writeFileSync(join(resolve(import.meta.dirname), 'results', `${date}-batch-sizes-${backend.name}${args.pass === 'forward' ? '' : `-${args.pass}`}.json`), JSON.stringify({ date, backend: backend.name, via: backend.via, pass: args.pass, load: loadavg(), rows }, null, 1) + '\n');
console.log(`| model | batch | ms / image (median) | min | peak MiB / image |\n|---|---|---|---|---|`);
for (const r of rows) console.log(`| ${r.model} | ${r.batch} | ${r.msPerImage.toFixed(1)} | ${r.minMsPerImage.toFixed(1)} | ${r.peakMiBPerImage.toFixed(1)} |`);
