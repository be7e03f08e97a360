#!/usr/bin/env node
// Batch-norm folding, before and after, on MobileNetV2 (issue 18): one model wrapped twice by
// `fromLayersModel`, with `foldBatchNorm: false` (every batch-norm, padding and ReLU6 its own
// kernel) and with the default folds. The two classifiers alternate call by call, so a change of
// the machine's load hits both alike; each row reports the median per image and the median of the
// per-round ratios folded ÷ unfolded. Rows: the forward pass at batch 1, 8 and 32; RISE (N masks,
// pass batch 32); Score-CAM (all 1280 channels, pass batch 32); SESS around Grad-CAM (12 scales,
// pre-filter 0.9, batchSize 16), with the classifier calls each SESS call makes.
//
//   npm run build && node bench/fold-ab.mjs [--rounds 5] [--rise-n 128] [--scorecam-rounds 2]
//
// Writes bench/results/<YYYY-MM-DD>-<backend>-fold-ab.json and prints a markdown table.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { fromLayersModel, gradCam, rise, scoreCam, sess } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { loadNsfwMobileNetV2, NSFW_CLASSES, NSFW_MOBILENET_V2_LAST_CONV_LAYER } from '@saliency/models';
import { loadBenchModel } from './lib/inputs.mjs';
import { SESS_SETTINGS } from './lib/plan.mjs';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'rise-n': { type: 'string', default: '128' },
    'scorecam-rounds': { type: 'string', default: '2' },
    backend: { type: 'string', default: 'wasm' },
  },
});
const backend = await initBackend({ prefer: args.backend, quiet: true });
const bench = await loadBenchModel('mobilenet', 32);
const model = await loadNsfwMobileNetV2();
const options = { classNames: NSFW_CLASSES, preprocess: { inputRange: [0, 255], modelRange: [0, 1] } };
const variants = {
  unfolded: fromLayersModel(model, { ...options, foldBatchNorm: false }),
  folded: fromLayersModel(model, options),
};
const layer = NSFW_MOBILENET_V2_LAST_CONV_LAYER;

/** The classifier with a count of its calls (not images): logits, probabilities, features, head. */
function countCalls(c) {
  const calls = { logits: 0, probabilities: 0, features: 0, head: 0 };
  const wrapped = {
    ...c,
    preprocess: (x) => c.preprocess(x),
    layerNames: () => c.layerNames(),
    logits: (x) => { calls.logits++; return c.logits(x); },
    probabilities: (x) => { calls.probabilities++; return c.probabilities(x); },
    at: (name) => {
      const a = c.at(name);
      return { ...a, name: a.name, features: (x) => { calls.features++; return a.features(x); }, head: (f, x) => { calls.head++; return a.head(f, x); } };
    },
  };
  return { wrapped, calls };
}

const riseN = Number(args['rise-n']);
const rows = [
  { name: 'forward', batch: 1, rounds: Number(args.rounds) * 3, run: (c) => c.logits(c.preprocess(bench.x(1))) },
  { name: 'forward', batch: 8, rounds: Number(args.rounds) * 3, run: (c) => c.logits(c.preprocess(bench.x(8))) },
  { name: 'forward', batch: 32, rounds: Number(args.rounds), run: (c) => c.logits(c.preprocess(bench.x(32))) },
  { name: `rise N=${riseN}`, batch: 1, rounds: Number(args.rounds), run: (c) => rise({ n: riseN, batchSize: 32, seed: 1 }).explain(c, bench.x(1), bench.targets(1)) },
  { name: 'scorecam K=1280', batch: 1, rounds: Number(args['scorecam-rounds']), run: (c) => scoreCam({ layer, batchSize: 32 }).explain(c, bench.x(1), bench.targets(1)) },
  { name: 'sess(gradcam)', batch: 1, rounds: Number(args.rounds), counted: true, run: (c) => sess(gradCam({ layer }), { ...SESS_SETTINGS }).explain(c, bench.x(1), bench.targets(1)) },
];

const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const results = [];
for (const row of rows) {
  const times = { unfolded: [], folded: [] };
  const ratios = [];
  const loads = [];
  let calls = null;
  for (let r = -1; r < row.rounds; r++) { // round -1 warms both up
    const order = r % 2 === 0 ? ['unfolded', 'folded'] : ['folded', 'unfolded'];
    const round = {};
    for (const v of order) {
      const { wrapped, calls: counted } = countCalls(variants[v]);
      const t0 = performance.now();
      const out = await row.run(wrapped);
      await out.data();
      round[v] = (performance.now() - t0) / row.batch;
      out.dispose();
      if (row.counted) calls = { ...counted };
    }
    if (r < 0) continue;
    times.unfolded.push(round.unfolded);
    times.folded.push(round.folded);
    ratios.push(round.folded / round.unfolded);
    loads.push(loadavg()[0]);
  }
  const res = {
    row: row.name, batch: row.batch, rounds: row.rounds,
    unfoldedMsPerImage: median(times.unfolded), foldedMsPerImage: median(times.folded),
    ratio: median(ratios), load: [Math.min(...loads), Math.max(...loads)], times, ...(calls ? { callsPerSessCall: calls } : {}),
  };
  results.push(res);
  console.error(`${row.name} b${row.batch}: ${res.unfoldedMsPerImage.toFixed(1)} → ${res.foldedMsPerImage.toFixed(1)} ms (×${res.ratio.toFixed(3)}), load ${res.load.map((l) => l.toFixed(1)).join('–')}`);
}
model.dispose();
bench.dispose();

const date = new Date().toISOString().slice(0, 10);
const out = new URL(`./results/${date}-${backend.name}-fold-ab.json`, import.meta.url);
writeFileSync(out, JSON.stringify({ date, backend: backend.name, via: backend.via, model: 'nsfwjs MobileNetV2 224²', sess: SESS_SETTINGS, results }, null, 1) + '\n');
console.log('| per image | batch | unfolded | folded | folded ÷ unfolded (median of rounds) | load |\n|---|---|---|---|---|---|');
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
for (const r of results) console.log(`| ${r.row} | ${r.batch} | ${fmt(r.unfoldedMsPerImage)} | ${fmt(r.foldedMsPerImage)} | ${r.ratio.toFixed(3)} | ${r.load.map((l) => l.toFixed(1)).join('–')} |`);
const s = results.find((r) => r.callsPerSessCall);
if (s) console.log(`\nSESS(Grad-CAM) classifier calls per call: ${JSON.stringify(s.callsPerSessCall)}`);
