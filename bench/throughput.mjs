#!/usr/bin/env node
// Throughput of a dataset run per worker count (issue 14's bench): `saliency eval --images DIR
// --model mobilenet --no-sess --no-metrics` over 64 real images, for Grad-CAM and RISE, with
// `--workers 1`, `--workers 2`, and `--queue` + 2 local `saliency worker` processes on a real
// redis-server started here on a free loopback port. Each mode writes its own report folder; the
// jobs/s is the CLI's own `throughput:` line (first job handed out → last record stored).
//
//   npm run build && node bench/throughput.mjs [--masks 200] [--images 64] [--methods gradcam,rise]
//                                              [--modes w1,w2,queue] [--backend wasm] [--tag NAME]
//
// The 64 images are 4 crops (whole, left/right/centre squares) of the 16 real photographs the
// repository already has (packages/models/assets/photos, face-api's demo samples), written as JPEG
// files. Every process uses one wasm thread (the pool's children do that themselves; the queue
// workers get SALIENCY_WORKER_PROCESS=1), so N processes use N cores.
// Writes bench/results/<YYYY-MM-DD>-throughput[-NAME].json and .md. Needs redis-server for the queue mode.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const { values: args } = parseArgs({
  options: {
    masks: { type: 'string', default: '200' },
    images: { type: 'string', default: '64' },
    methods: { type: 'string', default: 'gradcam,rise' },
    modes: { type: 'string', default: 'w1,w2,queue' },
    backend: { type: 'string', default: 'wasm' },
    tag: { type: 'string' },
  },
});
const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'packages/node/bin/saliency.js');
const count = Number(args.images);
const work = mkdtempSync(join(tmpdir(), 'saliency-throughput-'));

/** 4 crops of every photo, as JPEGs in `dir`, until `count` files. */
async function writeImages(dir) {
  mkdirSync(dir, { recursive: true });
  const photos = [
    ...readdirSync(join(ROOT, 'packages/models/assets/photos')).filter((f) => f.endsWith('.jpg')).map((f) => join(ROOT, 'packages/models/assets/photos', f)),
    ...readdirSync(join(ROOT, 'node_modules/@vladmandic/face-api/demo')).filter((f) => /^sample\d\.jpg$/.test(f)).map((f) => join(ROOT, 'node_modules/@vladmandic/face-api/demo', f)),
  ].sort();
  let n = 0;
  for (const crop of ['whole', 'left', 'right', 'centre']) {
    for (const p of photos) {
      if (n >= count) return n;
      const img = sharp(p);
      const { width, height } = await img.metadata();
      const s = Math.min(width, height);
      const left = crop === 'left' ? 0 : crop === 'right' ? width - s : Math.floor((width - s) / 2);
      const top = crop === 'left' ? 0 : crop === 'right' ? height - s : Math.floor((height - s) / 2);
      const pipeline = crop === 'whole' ? img : img.extract({ left, top, width: s, height: s });
      await pipeline.jpeg({ quality: 90 }).toFile(join(dir, `${String(n).padStart(3, '0')}-${crop}-${p.split('/').pop()}`));
      n++;
    }
  }
  return n;
}

const freePort = () => new Promise((res, rej) => {
  const srv = createServer().listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => res(port)); }).on('error', rej);
});

/** Runs the CLI, echoing its output; returns { code, stdout }. */
function cli(argv, env = {}) {
  return new Promise((res) => {
    const child = spawn(process.execPath, [CLI, ...argv], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.on('exit', (code) => res({ code, stdout }));
  });
}

const parseThroughput = (text) => {
  const m = /throughput: (\d+) jobs in ([\d.]+) s = ([\d.]+) jobs\/s/.exec(text);
  return m == null ? null : { jobs: Number(m[1]), seconds: Number(m[2]), jobsPerSecond: Number(m[3]) };
};

async function runMode(mode, method, dir) {
  const out = join(work, `${mode}-${method}`);
  const common = ['eval', '--images', dir, '--model', 'mobilenet', '--methods', method, '--no-sess', '--no-metrics', '--masks', args.masks, '--backend', args.backend, '--out', out];
  if (mode === 'w1' || mode === 'w2') {
    const r = await cli([...common, '--workers', mode === 'w1' ? '1' : '2']);
    if (r.code !== 0) throw new Error(`${mode} ${method}: exit ${r.code}`);
    return parseThroughput(r.stdout);
  }
  // --queue: a real redis-server, 2 `saliency worker` processes with one thread each.
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const url = `redis://127.0.0.1:${port}/0`;
  const workers = [0, 1].map(() => spawn(process.execPath, [CLI, 'worker', '--queue', url, '--backend', args.backend], {
    env: { ...process.env, SALIENCY_WORKER_PROCESS: '1' }, stdio: 'ignore',
  }));
  try {
    // The workers load their backend while the parent plans the jobs; both wait on the queue.
    const r = await cli([...common, '--queue', url]);
    if (r.code !== 0) throw new Error(`queue ${method}: exit ${r.code}`);
    return parseThroughput(r.stdout);
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode != null ? r() : w.on('exit', r)))));
    redis.kill('SIGTERM');
  }
}

const dir = join(work, 'images');
const written = await writeImages(dir);
console.log(`${written} images in ${dir}; machine load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const modes = args.modes.split(',');
const methods = args.methods.split(',');
const rows = [];
for (const method of methods) {
  for (const mode of modes) {
    const loadBefore = loadavg()[0];
    const t = await runMode(mode, method, dir);
    const row = { method: method === 'rise' ? `rise (${args.masks} masks)` : method, mode, ...t, loadBefore };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}
const ratio = (method, a, b) => {
  const x = rows.find((r) => r.method.startsWith(method) && r.mode === a);
  const y = rows.find((r) => r.method.startsWith(method) && r.mode === b);
  return x != null && y != null ? y.jobsPerSecond / x.jobsPerSecond : null;
};
const summary = methods.map((m) => ({ method: m, speedupW2: ratio(m, 'w1', 'w2'), queueVsW2: ratio(m, 'w2', 'queue') }));
const date = new Date().toISOString().slice(0, 10);
const name = `${date}-throughput${args.tag != null ? `-${args.tag}` : ''}`;
const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, backend: args.backend };
writeFileSync(join(ROOT, 'bench/results', `${name}.json`), JSON.stringify({ date, machine, images: written, masks: Number(args.masks), rows, summary }, null, 1) + '\n');
const md = [
  `# Dataset-run throughput, MobileNetV2 (224²), ${written} images, ${args.backend}, ${machine.cpus} cores (${date})`, '',
  '`saliency eval --images DIR --model mobilenet --no-sess --no-metrics`; jobs/s from the CLI\'s throughput line; load = 1-min load average before the run.', '',
  '| method | mode | jobs | seconds | jobs/s | load before |', '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.method} | ${r.mode === 'queue' ? '--queue + 2 workers' : `--workers ${r.mode.slice(1)}`} | ${r.jobs} | ${r.seconds} | ${r.jobsPerSecond.toFixed(2)} | ${r.loadBefore.toFixed(1)} |`),
  '', ...summary.map((s) => `- ${s.method}: --workers 2 / --workers 1 = ${s.speedupW2?.toFixed(2) ?? '–'}×; queue / --workers 2 = ${s.queueVsW2?.toFixed(2) ?? '–'}×`), '',
].join('\n');
writeFileSync(join(ROOT, 'bench/results', `${name}.md`), md);
console.log(md);
rmSync(work, { recursive: true, force: true });
