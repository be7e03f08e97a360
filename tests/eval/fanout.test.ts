// Fan-out of the evaluation suite: the same work in this process, in local worker processes and
// on a BullMQ queue served by `saliency worker` processes gives the same output folder (timings
// aside); a worker killed mid-job, a Redis restart and a drained run lose nothing; a rerun of a
// finished run does nothing; an unreachable Redis is a coded error. Real redis-server (Debian's),
// real BullMQ, real tfjs (wasm), the bundled digit CNN on generated scenes, built workers.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@saliency/node';
import { runEvaluation, type EvalOptions } from '../../packages/eval/src/run_eval.js';
import type { PoolEvent } from '../../packages/eval/src/local_pool.js';
import { requireQueuePackages } from '../../packages/eval/src/bullmq_loader.js';
import { checkRedis, parseRedisUrl } from '../../packages/eval/src/redis_url.js';
import type { EvalRecord } from '../../packages/eval/src/records.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'packages/node/dist/cli.js');
const REDIS = '/usr/bin/redis-server';

const freePort = (): Promise<number> => new Promise((res, rej) => {
  const s = createServer();
  s.once('error', rej);
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address() as { port: number };
    s.close(() => res(port));
  });
});

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A real redis-server on a free loopback port, persisting to an append-only file so a restart keeps the queue. */
class Redis {
  proc: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'redis-'));
  constructor(readonly port: number) {}
  url(db = 0): string { return `redis://127.0.0.1:${this.port}/${db}`; }
  async start(): Promise<void> {
    this.proc = spawn(REDIS, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir], { stdio: 'ignore' });
    await waitFor(() => checkRedis(parseRedisUrl(this.url()), 500).then(() => true, () => false), 'redis-server to answer');
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (p == null || p.exitCode != null) return;
    await new Promise<void>((r) => { p.once('exit', () => r()); p.kill('SIGTERM'); });
    this.proc = null;
  }
}

interface Worker { proc: ChildProcess; lines: string[] }
function startWorker(url: string): Worker {
  const proc = spawn(process.execPath, [cli, 'worker', '--queue', url, '--backend', 'wasm', '--lock-ms', '2000'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SALIENCY_WASM_THREADS: '1' } });
  const w: Worker = { proc, lines: [] };
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    w.lines.push(...parts);
  });
  proc.stderr!.on('data', (d: Buffer) => { w.lines.push(`stderr: ${d.toString().trim()}`); });
  return w;
}
async function stopWorkers(ws: Worker[]): Promise<void> {
  await Promise.all(ws.map((w) => new Promise<void>((r) => {
    if (w.proc.exitCode != null || w.proc.signalCode != null) return r();
    w.proc.once('exit', () => r());
    w.proc.kill('SIGTERM');
  })));
}

// 4 generated scenes × (gradcam, gt-box) = 8 jobs; the digit CNN and its small images keep it quick.
const base = (out: string): EvalOptions => ({ sets: ['generated'], methods: ['gradcam'], sess: false, limit: 4, overlays: 2, out, backend: 'wasm', environment: 'test' });
const JOBS = 8;
const readRecords = (out: string): EvalRecord[] =>
  readFileSync(join(out, 'records.jsonl'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as EvalRecord);
/** The output folder with the timings and the date taken out: what must be equal between modes. */
function folder(out: string): Record<string, string> {
  const files: Record<string, string> = {};
  files['records.jsonl'] = readFileSync(join(out, 'records.jsonl'), 'utf8').replace(/"ms":[0-9.e+-]+/g, '"ms":T');
  files['results.json'] = readFileSync(join(out, 'results.json'), 'utf8').replace(/"date": "[^"]*"/, '"date": D').replace(/"msPerImage": [0-9.e+-]+/g, '"msPerImage": T');
  files['index.html'] = readFileSync(join(out, 'index.html'), 'utf8').replace(/<p>[0-9T:.Z-]+ · /, '<p>D · ').replace(/<td>\d+<\/td><\/tr>/g, '<td>T</td></tr>');
  for (const f of readdirSync(join(out, 'overlays')).sort()) files[`overlays/${f}`] = readFileSync(join(out, 'overlays', f)).toString('base64');
  return files;
}

describe('fan-out: in-process, --workers and --queue give the same output folder', () => {
  let reference: Record<string, string>;
  let redis: Redis;

  beforeAll(async () => {
    await initBackend({ prefer: 'wasm', quiet: true });
    expect(existsSync(cli), 'run npm run build first: the workers are the built CLI and package').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'fan-ref-'));
    const before = tf.memory().numTensors;
    const r = await runEvaluation(base(out));
    expect(r.computed).toBe(JOBS);
    expect(tf.memory().numTensors).toBe(before);
    reference = folder(out);
    expect(Object.keys(reference).filter((f) => f.startsWith('overlays/'))).toHaveLength(2);
    redis = new Redis(await freePort());
    await redis.start();
  });
  afterAll(async () => { await redis?.stop(); });

  it('--workers 1 and --workers 2 give the in-process records, overlays and report; a rerun does nothing', async () => {
    for (const workers of [1, 2]) {
      const out = mkdtempSync(join(tmpdir(), `fan-w${workers}-`));
      const events: PoolEvent[] = [];
      const r = await runEvaluation({ ...base(out), workers, onPoolEvent: (e) => events.push(e) });
      expect(r.computed).toBe(JOBS);
      expect(events.filter((e) => e.type === 'spawn')).toHaveLength(workers);
      expect(new Set(events.filter((e) => e.type === 'start').map((e) => (e as { key: string }).key)).size).toBe(JOBS);
      expect(folder(out)).toEqual(reference);
      if (workers === 2) {
        const before = readFileSync(join(out, 'records.jsonl'));
        const again: PoolEvent[] = [];
        const rerun = await runEvaluation({ ...base(out), workers, onPoolEvent: (e) => again.push(e) });
        expect(rerun).toMatchObject({ computed: 0, skipped: JOBS, failed: 0 });
        expect(again).toEqual([]); // no worker was even started
        expect(readFileSync(join(out, 'records.jsonl')).equals(before)).toBe(true);
      }
    }
  });

  it('a local worker SIGKILLed mid-job: its job is re-queued, the run ends with one record per item', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fan-kill-'));
    const events: PoolEvent[] = [];
    let killed: string | null = null;
    const r = await runEvaluation({
      ...base(out), workers: 2,
      onPoolEvent: (e) => {
        events.push(e);
        if (e.type === 'start' && killed == null) { killed = e.key; process.kill(e.pid, 'SIGKILL'); }
      },
    });
    expect(r).toMatchObject({ computed: JOBS, failed: 0 });
    expect(events).toContainEqual(expect.objectContaining({ type: 'exit', signal: 'SIGKILL' }));
    expect(events).toContainEqual(expect.objectContaining({ type: 'retry', key: killed, attempt: 1 }));
    expect(events.filter((e) => e.type === 'spawn')).toHaveLength(3); // the dead worker was replaced
    const recs = readRecords(out);
    expect(recs.map((x) => x.key).sort()).toEqual([...new Set(recs.map((x) => x.key))].sort());
    expect(recs).toHaveLength(JOBS);
    expect(folder(out)).toEqual(reference);
  });

  it('draining stops handing out jobs, keeps the finished ones, and a rerun completes the run', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fan-drain-'));
    const ctrl = new AbortController();
    const started = new Set<string>();
    await expect(runEvaluation({
      ...base(out), workers: 1, signal: ctrl.signal,
      onPoolEvent: (e) => { if (e.type === 'start') started.add(e.key); },
      onProgress: (p) => { if (p.done === 3) ctrl.abort(); },
    })).rejects.toMatchObject({ code: 'ABORTED' });
    // The job in progress when the drain began finished and was recorded; nothing else started.
    expect(readRecords(out)).toHaveLength(started.size);
    expect(started.size).toBeGreaterThanOrEqual(3);
    expect(started.size).toBeLessThan(JOBS);
    const r = await runEvaluation({ ...base(out), workers: 2 });
    expect(r).toMatchObject({ computed: JOBS - started.size, skipped: started.size });
    expect(folder(out)).toEqual(reference);
  });

  it('--queue with 3 `saliency worker` processes gives the same folder', async () => {
    await requireQueuePackages();
    const url = redis.url(1);
    const out = mkdtempSync(join(tmpdir(), 'fan-q-'));
    const workers = [startWorker(url), startWorker(url), startWorker(url)];
    try {
      const r = await runEvaluation({ ...base(out), queue: url });
      expect(r).toMatchObject({ computed: JOBS, failed: 0 });
      expect(folder(out)).toEqual(reference);
      const done = workers.flatMap((w) => w.lines.filter((l) => l.startsWith('done ')));
      expect(done.length).toBeGreaterThanOrEqual(JOBS);
    } finally {
      await stopWorkers(workers);
    }
    for (const w of workers) expect(w.proc.exitCode, w.lines.join('\n')).toBe(0); // SIGTERM: stops cleanly
  });

  it('a queue worker SIGKILLed mid-job: BullMQ gives its job to another worker, one record per item', async () => {
    const url = redis.url(2);
    const out = mkdtempSync(join(tmpdir(), 'fan-q-kill-'));
    const ws = [startWorker(url), startWorker(url)];
    try {
      const running = runEvaluation({ ...base(out), queue: url });
      await waitFor(() => ws.some((w) => w.lines.some((l) => l.startsWith('start '))), 'a worker to start a job');
      const victim = ws.find((w) => w.lines.some((l) => l.startsWith('start ')))!;
      const job = victim.lines.find((l) => l.startsWith('start '))!.slice('start '.length);
      victim.proc.kill('SIGKILL');
      const r = await running;
      expect(r).toMatchObject({ computed: JOBS, failed: 0 });
      const survivor = ws.find((w) => w !== victim)!;
      expect(survivor.lines).toContain(`start ${job}`); // the killed worker's job ran again elsewhere
      const recs = readRecords(out);
      expect(recs).toHaveLength(JOBS);
      expect(new Set(recs.map((x) => x.key)).size).toBe(JOBS);
      expect(folder(out)).toEqual(reference);
    } finally {
      await stopWorkers(ws);
    }
  });

  it('Redis restarted mid-run: workers and the run reconnect and the run completes', async () => {
    const url = redis.url(3);
    const out = mkdtempSync(join(tmpdir(), 'fan-q-restart-'));
    const ws = [startWorker(url), startWorker(url)];
    try {
      const running = runEvaluation({ ...base(out), queue: url });
      await waitFor(() => existsSync(join(out, 'records.jsonl')) && readRecords(out).length >= 1, 'a first record');
      await redis.stop();
      await new Promise((r) => setTimeout(r, 1000));
      await redis.start();
      const r = await running;
      expect(r).toMatchObject({ failed: 0 });
      expect(readRecords(out)).toHaveLength(JOBS);
      expect(folder(out)).toEqual(reference);
    } finally {
      await stopWorkers(ws);
    }
  });

  it('a worker or a run pointed at an unreachable Redis stops with a coded error; a missing bullmq says how to install it', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}/0`;
    const w = startWorker(url);
    const code = await new Promise<number | null>((r) => w.proc.once('exit', (c) => r(c)));
    expect(code).toBe(2);
    expect(w.lines.join('\n')).toContain(`[QUEUE_UNREACHABLE] Cannot reach Redis at 127.0.0.1:${port} (ECONNREFUSED)`);
    const out = mkdtempSync(join(tmpdir(), 'fan-q-none-'));
    await expect(runEvaluation({ ...base(out), queue: url })).rejects.toMatchObject({ code: 'QUEUE_UNREACHABLE' });
    await expect(runEvaluation({ ...base(out), queue: 'http://127.0.0.1:6379' })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(requireQueuePackages(['bullmq', '@saliency/not-installed-queue-driver'])).rejects.toMatchObject({
      code: 'MISSING_PACKAGE', message: expect.stringContaining('npm install bullmq ioredis'),
    });
  });
});
