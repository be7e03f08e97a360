// `npm run bench`: every saliency method ± SESS on the bundled models, timed against its floor —
// the model passes it cannot avoid, timed at full batch throughput in the same run (design.md §8).
// Uses the BUILT packages (`npm run build` first).
//
// Usage: node bench/run.mjs [--quick] [--backend wasm|cpu|webgpu|all] [--models face,mobilenet,digits]
//                           [--methods gradient,guided,smoothgrad,gradcam,groupcam,scorecam,rise,gradcam++,…,occlusion]
//                           [--runs N] [--cap SECONDS] [--no-sess] [--no-extras] [--tag NAME]
// Writes bench/results/<YYYY-MM-DD>-<backend>[-quick][-NAME].json and .md. See bench/README.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { gradCam, rise, sess } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { countingClassifier } from './lib/counting.mjs';
import { makeCall, once } from './lib/calls.mjs';
import { loadBenchModel, sessPatchCount, unavailable } from './lib/inputs.mjs';
import { load, machineInfo } from './lib/machine.mjs';
import {
  buildPlan, DEFAULT_PASS_BATCH, ESTIMATE_RATIO, FULL, METHODS, MODELS, PERTURBATION, PERTURBATION_TARGET, QUICK, RISE_N, scalePasses, SESS_SETTINGS, sizeRow,
} from './lib/plan.mjs';
import { profileRun } from './lib/profile.mjs';
import {
  describePasses, floorMs, floorRatio, fmtMs, fmtRatio, loneFloorMs, median, pairedFloorMs, pairedFloorPlan, PASS_KINDS, renderMarkdown, rowLabel, runsFor, summarize,
} from './lib/stats.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'wasm' },
    models: { type: 'string' },
    methods: { type: 'string' },
    runs: { type: 'string' },
    cap: { type: 'string' },
    'no-sess': { type: 'boolean', default: false },
    'no-extras': { type: 'boolean', default: false },
    tag: { type: 'string' },
  },
});

const list = (s, known, what) => {
  if (s == null) return null;
  const xs = s.split(',').map((v) => v.trim()).filter(Boolean);
  for (const v of xs) if (!known.includes(v)) { console.error(`unknown ${what} '${v}'; choose from ${known.join(', ')}`); process.exit(2); }
  return xs;
};

if (!['wasm', 'cpu', 'webgpu', 'all'].includes(args.backend)) { console.error(`--backend must be wasm, cpu, webgpu or all, got '${args.backend}'`); process.exit(2); }
if (args.backend === 'all') {
  // One process per backend: models, caches and the wasm heap stay separate.
  const rest = process.argv.slice(2).filter((a, i, all) => a !== '--backend' && all[i - 1] !== '--backend' && !a.startsWith('--backend='));
  let rc = 0;
  for (const b of ['wasm', 'cpu']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...rest, '--backend', b], { stdio: 'inherit' });
    rc ||= r.status ?? 1;
  }
  process.exit(rc);
}

const base = args.quick ? QUICK : FULL;
const cfg = {
  ...base,
  ...(args.runs != null ? { runs: Number(args.runs) } : {}),
  ...(args.cap != null ? { capMs: Number(args.cap) * 1000 } : {}),
  ...(args['no-sess'] ? { sessImages: [] } : {}),
};
const started = performance.now();
const choice = await initBackend({ prefer: args.backend, quiet: true });
if (choice.name !== args.backend) { console.error(`asked for backend ${args.backend}, got ${choice.name}`); process.exit(1); }
const machine = await machineInfo(choice.name);
// WebGPU: which adapter (a real GPU, or a CPU device such as lavapipe) the numbers are from.
if (choice.adapter != null && choice.name === 'webgpu') machine.adapter = choice.adapter;
console.log(`bench (${cfg.name}) on ${machine.backend}: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memGiB} GiB, load ${machine.loadStart}; ` +
  `node ${machine.node}, tfjs ${machine.tfjs}${machine.simd == null ? '' : `, SIMD ${machine.simd}, threads ${machine.threads}`}` +
  `${machine.adapter == null ? '' : `, adapter ${machine.adapter.name} (${machine.adapter.description}${machine.adapter.isCpu ? ', a CPU device' : ''})`}`);

const methods = list(args.methods, METHODS, 'method') ?? METHODS;
const wanted = list(args.models, MODELS, 'model') ?? (choice.name === 'cpu' ? cfg.cpuModels : cfg.models);
const notes = [];
const models = [];
for (const m of wanted) {
  const why = unavailable(m);
  if (why == null) models.push(m);
  else { notes.push(`model ${m} skipped: ${why}`); console.log(`model ${m} skipped: ${why}`); }
}
if (choice.name === 'cpu' && args.models == null) notes.push(`cpu backend: only ${cfg.cpuModels.join(', ')} by default (10–25× slower than wasm); pass --models to add others`);
const plan = buildPlan(cfg, models, methods);
const memoryModel = models.includes('digits') ? 'digits' : models[0];

const result = {
  date: new Date().toISOString().slice(0, 10), quick: args.quick, machine, settings: { ...cfg, methods, models },
  sess: SESS_SETTINGS, models: [], rows: [], sessSpeedup: [], memory: null, profiles: [], notes, totalSeconds: 0,
};

const line = (s) => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}`);

/**
 * Warm-up (unless the row is long), then timed runs; counts passes on the first timed run. With
 * `pair` (a function timing the row's floor passes), each run is followed by one timing of its
 * floor: `pairs` holds `{ ms, floorMs }` per run.
 */
async function measure(call, counter, estimateMs, forceWarmup, pair = null) {
  const before = tf.memory().numTensors;
  const notesOut = [];
  let ref = estimateMs;
  if (forceWarmup || estimateMs <= cfg.longRowMs) {
    ref = await once(call);
    if (pair != null) await pair();
  } else {
    notesOut.push(`no separate warm-up (run > ${cfg.longRowMs / 1000} s; the floor rows warmed the model)`);
  }
  let runs = runsFor(ref, cfg);
  const ms = [];
  const pairs = [];
  let counted = null;
  for (let i = 0; i < runs; i++) {
    counter?.reset();
    ms.push(await once(call));
    if (i === 0) {
      counted = counter?.counts() ?? null;
      runs = Math.min(runs, runsFor(ms[0], cfg));
    }
    if (pair != null) pairs.push({ ms: ms[i], floorMs: await pair() });
  }
  if (runs < cfg.runs) notesOut.push(`${runs} run${runs > 1 ? 's' : ''} (run > ${cfg.longRowMs / 1000} s)`);
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) notesOut.push(`LEAK: ${leaked} tensors`);
  return { time: summarize(ms), counted, notes: notesOut, leaked, pairs };
}

/**
 * The time of a floor call for the paired floor: the fastest of 2 timings, or of `pairRepeats`
 * for a call under `pairRepeatBelowMs` (the head and rest passes, ~0.5 ms, which count thousands
 * of times in Ablation-CAM's floor). The first call after a method run can pay for that run's
 * garbage (a 20 s Integrated Gradients run left the next input gradient 30 % slower), which would
 * raise the floor and flatter the ratio; the fastest timing cannot.
 */
async function timeUnitCall(call) {
  const ms = [await once(call), await once(call)];
  if (Math.min(...ms) < cfg.pairRepeatBelowMs) while (ms.length < cfg.pairRepeats) ms.push(await once(call));
  return Math.min(...ms);
}

const sameCounts = (a, b) => a != null && PASS_KINDS.every((k) => (a[k] ?? 0) === (b[k] ?? 0));

const FLOOR_METHODS = ['forward', 'inputgrad', 'layergrad', 'headpass', 'restpass'];
const UNIT_OF = { forward: 'F', inputgrad: 'G', layergrad: 'L', headpass: 'H', restpass: 'R' };

/**
 * Units (ms per image) from floor-row measurements `{ method, images, ms }`: F = the best of the
 * forwards at batch 8 and 32 (full batch throughput), G and L = the best of batch 1 and 8, H = the
 * head pass and R = the rest pass at batch 32 (when measured).
 */
function unitsFrom(measurements) {
  const best = (method, batches) => Math.min(...measurements.filter((d) => d.method === method && batches.includes(d.images)).map((d) => d.ms / d.images));
  const h = best('headpass', [32]);
  const r = best('restpass', [32]);
  return {
    F: best('forward', [8, 32]), G: best('inputgrad', [1, 8]), L: best('layergrad', [1, 8]),
    ...(Number.isFinite(h) ? { H: h } : {}), ...(Number.isFinite(r) ? { R: r } : {}),
  };
}

/** The batch-1 time of each pass kind (forward, input gradient, layer gradient at batch 1), for {@link loneFloorMs}. */
function batch1Units(measurements) {
  const at1 = (method) => Math.min(...measurements.filter((d) => d.method === method && d.images === 1).map((d) => d.ms));
  return { F: at1('forward'), G: at1('inputgrad'), L: at1('layergrad') };
}

const fmtUnits = (u) => PASS_KINDS.filter((k) => u[k] != null).map((k) => `${k} ${u[k].toFixed(2)}`).join(', ');

async function benchModel(name) {
  const t0 = performance.now();
  const model = await loadBenchModel(name);
  const counter = countingClassifier(model.classifier);
  const info = {
    name, label: model.label, inputSize: model.classifier.inputSize, camLayer: model.camLayer, channels: model.channels, reducedHead: model.reduced,
    sessPatches: model.patches, sessKept: model.kept, distinctImages: model.distinctImages, loadMs: performance.now() - t0,
    units: null, unitsStart: null, unitsEnd: null,
  };
  result.models.push(info);
  const firstIndex = result.rows.length;
  line(`${name}: ${model.label}, input ${info.inputSize.join('×')}, layer ${model.camLayer} (${model.channels} ch), SESS ${model.patches} patches / ${model.kept} kept; ${model.distinctImages} distinct images`);
  const rows = plan.filter((r) => r.model === name);
  // The rest pass exists only where the CAM layer's head has a per-channel reduction.
  const floorRows = rows.filter((r) => FLOOR_METHODS.includes(r.method) && (r.method !== 'restpass' || model.reduced));
  // 1. Floor rows, warmed up: the units, measured again after the method rows (step 3).
  const done = [];
  for (const r of floorRows) {
    const call = makeCall(r, model, {}, counter.wrapped);
    const m = await measure(call, counter, 0, true);
    done.push({ row: r, call, dispose: call.dispose, ...m });
    line(`${name} ${r.method} batch ${r.images}: ${fmtMs(m.time.median)} (${fmtMs(m.time.median / r.images)}/image)`);
  }
  const startUnits = unitsFrom(done.map((d) => ({ method: d.row.method, images: d.row.images, ms: d.time.median })));
  info.unitsStart = startUnits;
  line(`${name} units at the start (ms/image): ${fmtUnits(startUnits)}`);
  // The paired floor: after each run of a method row, its floor passes are timed once (the unit
  // calls at the batch that gave each unit at the start, a lone pass at batch 1), so that the
  // row and its floor see the same load. ratio, paired = the median of the per-run ratios.
  const unitCall = (kind, batch) => done.find((d) => UNIT_OF[d.row.method] === kind && d.row.images === batch)?.call;
  const fullBatch = {};
  for (const k of PASS_KINDS) {
    const perImage = done.filter((d) => UNIT_OF[d.row.method] === k && (k !== 'F' || d.row.images > 1)).map((d) => ({ batch: d.row.images, ms: d.time.median / d.row.images }));
    if (perImage.length > 0) fullBatch[k] = perImage.sort((a, b) => a.ms - b.ms)[0].batch;
  }
  info.pairBatches = fullBatch;
  const pairFor = (passes, images) => {
    const fplan = pairedFloorPlan(passes, images, fullBatch);
    const calls = fplan.map((p) => unitCall(p.kind, p.batch));
    if (calls.some((c) => c == null)) return null;
    return async () => {
      const t = [];
      for (const c of calls) t.push(await timeUnitCall(c));
      return pairedFloorMs(fplan, t);
    };
  };
  // 2. Methods, ± SESS, sized with the start units. A load probe (one forward at batch 8) runs
  // before the first row and after every row: the mean of the probes around a row over the
  // fastest probe of the model is the row's load factor (other work on the machine).
  const methodRows = rows.filter((x) => !floorRows.includes(x));
  const estimate = methodRows.map((r) => sizeRow(r, model, startUnits, cfg)).filter((s) => s.skip == null)
    .reduce((t, s) => t + s.estimateMs * (s.runs + (s.estimateMs <= cfg.longRowMs ? 1 : 0)), 0);
  line(`${name}: ${methodRows.length} method rows, about ${Math.round(estimate / 1000)} s`);
  const probe = makeCall({ method: 'forward', images: 8 }, model, {}, model.classifier);
  const probes = [];
  for (let i = 0; i < 3; i++) probes.push(await once(probe));
  let lastProbe = probes[probes.length - 1];
  const measured = [];
  for (const r of methodRows) {
    const s = sizeRow(r, model, startUnits, cfg);
    const passBatch = r.sess ? SESS_SETTINGS.batchSize : (r.passBatch ?? DEFAULT_PASS_BATCH[r.method]);
    const out = {
      model: name, method: r.method, sess: r.sess, images: r.images, passBatch, passBatchOption: r.passBatch, settings: s.settings, params: s.params,
      passes: describePasses(scalePasses(s.passes, r.images)), passesTotal: scalePasses(s.passes, r.images), passesPerImage: s.passes,
      floorMs: s.floorMs, estimateMs: s.estimateMs,
      target: !r.sess && PERTURBATION.includes(r.method) && passBatch === 32 ? PERTURBATION_TARGET : null, notes: [],
    };
    if (s.params.n != null && s.params.n < RISE_N[0]) out.notes.push(`N=${s.params.n} instead of ${RISE_N[0]}: floor scaled to N`);
    if (s.params.samples != null && s.params.samples < 25) out.notes.push(`${s.params.samples} samples instead of 25: floor scaled`);
    result.rows.push(out);
    if (s.skip != null) {
      out.skipped = `${s.skip} (--cap to raise)`;
      line(`${name} ${rowLabel(r)} batch ${r.images}: SKIPPED, ${s.skip}`);
      continue;
    }
    const m = await measure(makeCall(r, model, s.params, counter.wrapped), counter, s.estimateMs, false, pairFor(s.passes, r.images));
    const after = await once(probe);
    probes.push(after);
    out.probeMs = (lastProbe + after) / 2;
    lastProbe = after;
    out.time = m.time;
    out.pairs = m.pairs;
    out.ratioPaired = m.pairs.length > 0 ? median(m.pairs.map((p) => p.ms / p.floorMs)) : null;
    out.counted = m.counted == null ? '' : describePasses(m.counted);
    out.countedTotal = m.counted;
    out.notes.push(...m.notes);
    if (!sameCounts(m.counted, out.passesTotal)) out.notes.push('counted passes differ from the required ones');
    measured.push(out);
    line(`${name} ${rowLabel(r)} batch ${r.images} pass batch ${passBatch} ${s.settings}: ${fmtMs(m.time.median)} [${fmtMs(m.time.min)}–${fmtMs(m.time.max)}] ` +
      `×${m.time.runs} (floor at the start units ${fmtMs(s.floorMs)} → ${fmtRatio(m.time.median / s.floorMs)}; paired ${fmtRatio(out.ratioPaired)}); passes ${out.passes}, counted ${out.counted}`);
  }
  // 3. The floor rows again (3 runs, those under the long-row limit); units = the best of both.
  const again = [];
  for (const d of done) {
    if (d.time.median > cfg.longRowMs) continue;
    const ms = [];
    for (let i = 0; i < Math.min(3, cfg.runs); i++) ms.push(await once(d.call));
    d.again = summarize(ms);
    again.push({ method: d.row.method, images: d.row.images, ms: d.again.median });
  }
  info.unitsEnd = again.length > 0 ? unitsFrom([...again, ...done.filter((d) => d.again == null).map((d) => ({ method: d.row.method, images: d.row.images, ms: d.time.median }))]) : null;
  const units = unitsFrom([...done.map((d) => ({ method: d.row.method, images: d.row.images, ms: d.time.median })), ...again]);
  info.units = units;
  const units1 = batch1Units([...done.map((d) => ({ method: d.row.method, images: d.row.images, ms: d.time.median })), ...again]);
  info.units1 = units1;
  for (const k of PASS_KINDS.filter((x) => units[x] != null)) {
    const drift = info.unitsEnd == null ? 0 : info.unitsEnd[k] / startUnits[k] - 1;
    if (Math.abs(drift) > 0.2) notes.push(`${name}: unit ${k} was ${(100 * drift).toFixed(0)} % off between the start and the end of the rows (machine load); the floor uses the faster`);
  }
  line(`${name} units at the end: ${info.unitsEnd == null ? '–' : fmtUnits(info.unitsEnd)}; used (the best): ${fmtUnits(units)}; batch 1: ${fmtUnits(units1)}`);
  // 4. Floors and ratios with the final units.
  const probeRef = Math.min(...probes);
  info.probeMs = probeRef;
  const floorOut = [];
  for (const d of done) {
    const passes = { F: 0, G: 0, L: 0 };
    passes[UNIT_OF[d.row.method]] = 1;
    d.dispose?.();
    const total = scalePasses(passes, d.row.images);
    const floor = floorMs(passes, units, d.row.images);
    const best = d.again != null && d.again.median < d.time.median ? d.again : d.time;
    floorOut.push({
      model: name, method: d.row.method, sess: false, images: d.row.images, passBatch: d.row.images, settings: '', params: {},
      passes: describePasses(total), passesTotal: total, counted: d.counted == null ? '' : describePasses(d.counted), countedTotal: d.counted,
      floorMs: floor, time: best, timeStart: d.time, timeEnd: d.again ?? null, ratio: floorRatio(best.median, floor), ratioMin: floorRatio(best.min, floor),
      target: null,
      notes: [
        ...d.notes, ...(sameCounts(d.counted, total) ? [] : ['counted passes differ from the required ones']),
        ...(d.again == null ? [] : best === d.again ? [`after the rows (faster); at the start ${fmtMs(d.time.median)}`] : [`at the start (faster); after the rows ${fmtMs(d.again.median)}`]),
      ],
    });
  }
  result.rows.splice(firstIndex, 0, ...floorOut);
  for (const out of measured) {
    out.floorMs = floorMs(out.passesPerImage, units, out.images);
    out.ratio = floorRatio(out.time.median, out.floorMs);
    out.ratioMin = floorRatio(out.time.min, out.floorMs);
    out.load = out.probeMs / probeRef;
    out.ratioAdjusted = floorRatio(out.time.median, out.floorMs * out.load);
    out.loneFloorMs = loneFloorMs(out.passesPerImage, units, units1, out.images);
    out.ratioLone = floorRatio(out.time.median, out.loneFloorMs);
  }
  for (const out of result.rows.filter((r) => r.model === name && r.skipped != null)) out.floorMs = floorMs(out.passesPerImage, units, out.images);
  if (!args['no-extras']) {
    const batch1 = (method) => done.find((d) => d.row.method === method && d.row.images === 1).time.median;
    if (cfg.speedup) await sessSpeedup(model, units, batch1('forward') + batch1('layergrad'));
    if (name === memoryModel) await riseMemory(model, units.F);
    await profileWorst(model);
  }
  model.dispose();
}

/** SESS(Grad-CAM), every patch kept (r = 0): batchSize 16 vs one patch per call, total and extraction. */
async function sessSpeedup(model, units, singlePatchMs) {
  const x = model.x(1);
  const targets = model.targets(1);
  // The configured scale count, or 6 when one patch at a time would take longer than 1.5 long rows.
  const plan = (n) => {
    const patches = sessPatchCount(model.classifier.inputSize, n);
    return { scales: n, patches, estimates: { batched: 1.25 * patches * (units.F + units.L), single: 1.25 * patches * singlePatchMs } };
  };
  let chosen = plan(cfg.speedupScales);
  if (chosen.estimates.single > 1.5 * cfg.longRowMs && cfg.speedupScales > 6) chosen = plan(6);
  const { scales, patches, estimates } = chosen;
  if (estimates.single > cfg.capMs) {
    notes.push(`SESS speed-up on ${model.name} skipped: one patch at a time estimated ${Math.round(estimates.single / 1000)} s > cap`);
    return;
  }
  const one = async (batch) => {
    let prefilterEnd = 0;
    const t0 = performance.now();
    const method = sess(gradCam({ layer: model.camLayer, batchSize: batch }), {
      ...SESS_SETTINGS, scales, preFilterRatio: 0, batchSize: batch,
      onProgress: (p) => { if (p.phase === 'prefilter') prefilterEnd = performance.now() - t0; },
    });
    const map = await method.explain(model.classifier, x, targets);
    await map.data();
    const ms = performance.now() - t0;
    map.dispose();
    return { ms, extraction: ms - prefilterEnd };
  };
  // Interleaved (batched, one at a time, batched, …) so that a change of the machine's load hits
  // both alike; the speed-ups are medians of the per-pair ratios.
  const B = SESS_SETTINGS.batchSize;
  if (estimates.single <= cfg.longRowMs) { await one(B); await one(1); } // warm-up
  const runs = Math.min(cfg.speedupRuns, runsFor(estimates.batched + estimates.single, cfg));
  const pairs = [];
  for (let i = 0; i < runs; i++) pairs.push({ batched: await one(B), single: await one(1) });
  const side = (k) => ({ ...summarize(pairs.map((p) => p[k].ms)), extraction: summarize(pairs.map((p) => p[k].extraction)).median });
  const batched = side('batched');
  const single = side('single');
  const row = {
    model: model.name, base: 'gradcam', scales, patches, kept: patches, preFilterRatio: 0, runs,
    batched: { batchSize: B, ...batched }, single: { batchSize: 1, ...single }, estimates,
    speedup: {
      total: summarize(pairs.map((p) => p.single.ms / p.batched.ms)).median,
      extraction: summarize(pairs.map((p) => p.single.extraction / p.batched.extraction)).median,
    },
  };
  result.sessSpeedup.push(row);
  line(`${model.name} SESS(gradcam) ${scales} scales, r=0, ${patches} patches: batched ${fmtMs(batched.median)} (extraction ${fmtMs(batched.extraction)}), ` +
    `one at a time ${fmtMs(single.median)} (extraction ${fmtMs(single.extraction)}) → ×${row.speedup.total.toFixed(2)} total, ×${row.speedup.extraction.toFixed(2)} extraction`);
}

/** Peak tensor bytes of RISE at a small and a large N on one image (tf.profile). */
async function riseMemory(model, unitF) {
  const x = model.x(1);
  const targets = model.targets(1);
  const runs = [];
  let [small, large] = cfg.memoryN;
  // tf.profile slows the run down (about ×1.5 here); shrink the large N if it would pass the cap.
  while (large > 2 * small && 1.5 * ESTIMATE_RATIO * large * unitF > cfg.memoryCapMs) large = Math.floor(large / 2);
  const estimate = 1.5 * ESTIMATE_RATIO * (small + large) * unitF;
  if (estimate > 2 * cfg.memoryCapMs) {
    notes.push(`RISE memory check on ${model.name} skipped: estimated ${Math.round(estimate / 1000)} s (N=${small} and ${large})`);
    line(`${model.name} RISE memory check skipped: estimated ${Math.round(estimate / 1000)} s`);
    return;
  }
  if (large !== cfg.memoryN[1]) notes.push(`RISE memory check on ${model.name}: N=${large} instead of ${cfg.memoryN[1]} (time cap)`);
  for (const n of [small, large]) {
    const method = rise({ n, seed: 1, batchSize: 32 });
    const p = await profileRun(() => method.explain(model.classifier, x, targets), 0);
    runs.push({ n, peakBytes: p.peakBytes, peakAddedBytes: p.peakAddedBytes, ms: p.wallMs });
    line(`${model.name} RISE N=${n}: peak +${(p.peakAddedBytes / 2 ** 20).toFixed(1)} MiB above the start (${(p.peakBytes / 2 ** 20).toFixed(1)} MiB total), ${fmtMs(p.wallMs)} under tf.profile`);
  }
  result.memory = { model: model.name, batchSize: 32, runs, ratio: runs[1].peakAddedBytes / runs[0].peakAddedBytes, target: 1.5 };
}

/** Per-kernel profile of this model's rows with the highest floor ratio (short enough to profile). */
async function profileWorst(model) {
  const candidates = result.rows
    .filter((r) => r.model === model.name && r.time != null && r.ratio != null && !FLOOR_METHODS.includes(r.method) &&
      r.time.median >= cfg.profileMinMs && r.time.median <= cfg.profileMaxMs)
    .sort((a, b) => b.ratio - a.ratio)
    .slice(0, cfg.profiles);
  const refRow = { model: model.name, method: 'forward', sess: false, images: 32, passBatch: null };
  const targets = [...candidates, refRow];
  for (const r of targets) {
    const call = makeCall({ ...r, passBatch: r === refRow ? null : r.passBatchOption }, model, r.params ?? {}, model.classifier);
    await once(call); // warm
    const p = await profileRun(call);
    const label = `${model.name} ${rowLabel(r)} batch ${r.images}${r === refRow ? '' : `, pass batch ${r.passBatch}`}${r.settings ? ` (${r.settings})` : ''}${r === refRow ? ' — reference: the F unit' : `, ratio ${fmtRatio(r.ratio)}`}`;
    result.profiles.push({ label, model: model.name, method: r.method, sess: r.sess, images: r.images, ratio: r.ratio ?? null, ...p });
    line(`profile ${label}: wall ${fmtMs(p.wallMs)}, kernels ${fmtMs(p.kernelMs)}; top ${p.top.slice(0, 4).map((k) => `${k.name} ${fmtMs(k.ms)}`).join(', ')}`);
  }
}

for (const name of models) await benchModel(name);

machine.loadEnd = load();
result.totalSeconds = (performance.now() - started) / 1000;
notes.push('A ratio below 1 means the row ran faster than its passes at the unit costs: the units come from other moments of the run (other work on the machine) ' +
  'and other batch sizes, and some passes are partial (Score-CAM\'s first pass stops at the CAM layer but counts as a full forward).');
const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const stem = `${result.date}-${choice.name}${args.quick ? '-quick' : ''}${args.tag != null ? `-${args.tag.replace(/[^A-Za-z0-9_-]/g, '')}` : ''}`;
writeFileSync(new URL(`${stem}.json`, dir), JSON.stringify(result, null, 2) + '\n');
const md = renderMarkdown(result);
writeFileSync(new URL(`${stem}.md`, dir), md);
console.log('\n' + md);
console.log(`wrote bench/results/${stem}.json and .md in ${result.totalSeconds.toFixed(0)} s`);
