// `npm run bench` (last step): wasm threads = 1 and threads = cores side by side, on MobileNetV2
// (nsfwjs, 224²) and the face-expression model (112²), batch 1: forward (classifier.logits, and
// model.predict for comparison), input gradient, Grad-CAM, Guided Backprop and RISE; each row
// with the machine's load average (os.loadavg, 1 min) while it ran. One child process per thread
// count (a process holds one wasm backend), both children run the same rows in the same order.
// Uses the BUILT packages (`npm run build` first).
//
// Usage: node bench/threads.mjs [--quick] [--threads N] [--runs N] [--rise-n N]
//   --quick: 3 runs, RISE N = 200 (≈ 2 minutes on a busy 2-core machine)
//   --threads N: the threaded side (default: os.availableParallelism(), at most 8)
// Writes bench/results/<YYYY-MM-DD>-threads[-quick].json and .md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    threads: { type: 'string' },
    runs: { type: 'string' },
    'rise-n': { type: 'string' },
    child: { type: 'string' },
    out: { type: 'string' },
  },
});
const runs = Number(args.runs ?? (args.quick ? 3 : 7));
const riseN = Number(args['rise-n'] ?? (args.quick ? 200 : 1000));

if (args.child != null) {
  await child(Number(args.child), args.out);
} else {
  parent();
}

function parent() {
  const cores = Math.min(8, availableParallelism());
  const many = Number(args.threads ?? cores);
  const sides = [1, many];
  const results = {};
  for (const t of sides) {
    const out = join(tmpdir(), `saliency-bench-threads-${process.pid}-${t}.json`);
    console.log(`threads = ${t} …`);
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', String(t), '--out', out, '--runs', String(runs), '--rise-n', String(riseN)], {
      stdio: 'inherit', env: { ...process.env, SALIENCY_WORKER_PROCESS: '' },
    });
    if (r.status !== 0) { console.error(`child with ${t} thread(s) failed`); process.exit(1); }
    results[t] = JSON.parse(readFileSync(out, 'utf8'));
  }
  const [a, b] = sides.map((t) => results[t]);
  const lines = [
    `# wasm threads: 1 vs ${many} (${new Date().toISOString().slice(0, 10)}${args.quick ? ', quick' : ''})`,
    '',
    `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores; node ${process.version}; batch 1, ${runs} runs per row (median, min), RISE N = ${riseN}.`,
    `Load = os.loadavg() 1-minute average at the end of each row (a quiet machine is < 0.5 per core idle).`,
    `Threads reported by initBackend: ${a.threads.threads} (${a.threads.reason}) / ${b.threads.threads} (${b.threads.reason}).`,
    '',
    `| model | row | 1 thread: median (min) ms | load | ${many} threads: median (min) ms | load | speed-up (median) |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (let i = 0; i < a.rows.length; i++) {
    const r1 = a.rows[i];
    const r2 = b.rows[i];
    lines.push(`| ${r1.model} | ${r1.row} | ${r1.median.toFixed(1)} (${r1.min.toFixed(1)}) | ${r1.load.toFixed(2)} | ${r2.median.toFixed(1)} (${r2.min.toFixed(1)}) | ${r2.load.toFixed(2)} | ${(r1.median / r2.median).toFixed(2)}× |`);
  }
  const md = lines.join('\n') + '\n';
  console.log(`\n${md}`);
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${new Date().toISOString().slice(0, 10)}-threads${args.quick ? '-quick' : ''}`);
  writeFileSync(`${base}.json`, JSON.stringify({ sides, runs, riseN, results }, null, 2));
  writeFileSync(`${base}.md`, md);
  console.log(`wrote ${base}.md and .json`);
}

async function child(threads, out) {
  const tf = await import('@tensorflow/tfjs-core');
  const { explain, gradCam, guidedBackprop, rise, inputGradient, selectTargets } = await import('@saliency/core');
  const node = await import('@saliency/node');
  const bundledModels = await import('@saliency/models');
  const choice = await node.initBackend({ prefer: 'wasm', quiet: true, wasmThreads: threads });
  if (choice.wasmThreads?.threads !== threads) throw new Error(`asked for ${threads} thread(s), got ${JSON.stringify(choice.wasmThreads)}`);
  const rows = [];
  const models = [
    ['face', bundledModels.loadFaceExpressionClassifier, 112],
    ['mobilenet', bundledModels.loadMobileNetV2Classifier, 224],
  ];
  for (const [name, load, size] of models) {
    const bundled = await load();
    const { classifier, camLayer } = bundled;
    const x = tf.randomUniform([1, size, size, 3], 0, 255, 'float32', 7);
    const xModel = classifier.preprocess(x);
    // the bare layers model, for the model.predict row (MobileNetV2 only)
    const model = name === 'mobilenet' ? await bundledModels.loadNsfwMobileNetV2() : null;
    const calls = [
      ['forward (classifier.logits)', async () => { const y = classifier.logits(x); await y.data(); y.dispose(); }],
      ...(model != null && typeof model.predict === 'function'
        ? [['forward (model.predict)', async () => { const y = model.predict(xModel); await y.data(); y.dispose(); }]] : []),
      ['input gradient', async () => { const g = inputGradient((xi) => selectTargets(classifier.logits(xi), [0]), x); await g.data(); g.dispose(); }],
      ['Grad-CAM', async () => { const m = await explain(gradCam({ layer: camLayer }), classifier, x, { target: 0 }); m.dispose(); }],
      ['Guided Backprop', async () => { const m = await explain(guidedBackprop(), classifier, x, { target: 0 }); m.dispose(); }],
      [`RISE (N = ${riseN})`, async () => { const m = await explain(rise({ n: riseN, seed: 1 }), classifier, x, { target: 0 }); m.dispose(); }],
    ];
    for (const [row, call] of calls) {
      await call(); // warm-up
      const ms = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await call();
        ms.push(performance.now() - t0);
      }
      const sorted = [...ms].sort((p, q) => p - q);
      rows.push({ model: name, row, median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], load: loadavg()[0], ms });
      console.log(`  [${threads}] ${name} ${row}: median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms, load ${loadavg()[0].toFixed(2)}`);
    }
    tf.dispose([x, xModel]);
    bundled.dispose();
    model?.dispose();
  }
  writeFileSync(out, JSON.stringify({ threads: choice.wasmThreads, rows }));
}
