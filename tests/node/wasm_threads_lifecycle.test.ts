/**
 * The wasm thread loader in real Node processes that must exit by themselves (no
 * process.exit; a generous kill timeout is only a guard, and a killed child fails the test):
 * - the default initBackend() runs one thread per core (at most 8) and the process exits;
 * - a threaded start-up that fails (a corrupt threaded .wasm, via tfjs's own setWasmPaths) or
 *   times out restores os.cpus, worker_threads.Worker, globalThis.Worker and the process
 *   listeners, terminates its workers, and leaves a working single-threaded backend;
 * Each child computes real logits of the face model on the backend it got.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const WASM_PKG = join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm');
const CORES = Math.min(8, availableParallelism());
let dir: string;

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'saliency-threads-life-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ChildReport {
  threads: { enabled: boolean; threads: number; code: string; reason: string };
  late?: { enabled: boolean; threads: number; code: string; reason: string };
  backend: string;
  actualThreads: number;
  restored: { cpus: boolean; worker: boolean; globalWorker: boolean; listeners: boolean };
  logits: number[];
}

/** The part every child script shares: snapshots before, logits and a report after. */
const PRELUDE = `
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { initBackend, enableWasmThreads } from '@saliency/node';
import { loadFaceExpressionClassifier } from '@saliency/models';
const require = createRequire(import.meta.url);
const os = require('node:os');
const wt = require('node:worker_threads');
const snap = { cpus: os.cpus, worker: wt.Worker, hadGlobal: 'Worker' in globalThis, global: globalThis.Worker,
  listeners: ['uncaughtException', 'unhandledRejection'].map((e) => process.listeners(e).length) };
/** What the loader touched, compared with the start of the process. */
function check() {
  return { cpus: os.cpus === snap.cpus, worker: wt.Worker === snap.worker,
    globalWorker: ('Worker' in globalThis) === snap.hadGlobal && globalThis.Worker === snap.global,
    listeners: ['uncaughtException', 'unhandledRejection'].every((e, i) => process.listeners(e).length === snap.listeners[i]) };
}
async function report(threads, restored, late) {
  const { classifier, dispose } = await loadFaceExpressionClassifier();
  const x = tf.randomUniform([1, 112, 112, 3], 0, 255, 'float32', 3);
  const y = classifier.logits(x);
  const logits = Array.from(await y.data());
  tf.dispose([x, y]);
  dispose();
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  writeFileSync(process.env.SALIENCY_OUT, JSON.stringify({ threads, late, backend: tf.getBackend(), actualThreads: wasm.getThreadsCount(), restored, logits }));
}
`;

/** Runs `body` (after the prelude) in a fresh Node process under vite-node; it must exit by itself with 0. */
async function runChild(name: string, body: string, opts: { env?: Record<string, string | undefined> } = {}): Promise<ChildReport> {
  const script = join(dir, `${name}.ts`);
  const out = join(dir, `${name}.json`);
  writeFileSync(script, PRELUDE + body);
  const env: Record<string, string | undefined> = { ...process.env, SALIENCY_OUT: out, ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v == null) delete env[k];
  // async (not spawnSync), so that vitest's worker keeps answering while the child runs
  const r = await new Promise<{ status: number | null; signal: string | null; stderr: string }>((done) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/vite-node/vite-node.mjs'), '--config', join(ROOT, 'vitest.config.ts'), script], {
      cwd: ROOT, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const guard = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (status, signal) => { clearTimeout(guard); done({ status, signal, stderr }); });
  });
  // killed by the guard (signal set) = the process could not exit by itself
  expect({ signal: r.signal, status: r.status }, `child ${name}: ${r.stderr?.slice(-3000)}`).toEqual({ signal: null, status: 0 });
  return JSON.parse(readFileSync(out, 'utf8')) as ChildReport;
}

const ALL_RESTORED = { cpus: true, worker: true, globalWorker: true, listeners: true };
let single: ChildReport;

describe('wasm threads in a Node process that must exit by itself', () => {
  it('the default initBackend() runs one thread per core (at most 8); the process exits', async () => {
    single = await runChild('single', `
const b = await initBackend({ prefer: 'wasm', quiet: true, wasmThreads: false });
await report(b.wasmThreads, check());
`);
    expect(single.threads).toMatchObject({ enabled: false, threads: 1, code: 'OFF' });
    expect(single.actualThreads).toBe(1);
    const r = await runChild('default', `
const b = await initBackend({ quiet: true });
await report(b.wasmThreads, check());
`, { env: { SALIENCY_WORKER_PROCESS: undefined, SALIENCY_WASM_THREADS: undefined } });
    expect(r.backend).toBe('wasm');
    expect(r.threads.threads).toBe(CORES);
    expect(r.actualThreads).toBe(CORES);
    expect(r.threads.code).toBe(CORES > 1 ? 'ENABLED' : 'ONE_CORE');
    expect(r.threads.reason).toMatch(/one per core|core/);
    // the loader's os.cpus / Worker swaps are undone; Emscripten's pthread glue sets globalThis.Worker on success
    expect({ cpus: r.restored.cpus, worker: r.restored.worker }).toEqual({ cpus: true, worker: true });
    expect(r.logits).toEqual(single.logits);
  });

  it('a worker process of a multi-process run uses one thread, unless SALIENCY_WASM_THREADS says otherwise', async () => {
    const r = await runChild('worker', `
const b = await initBackend({ quiet: true });
await report(b.wasmThreads, check());
`, { env: { SALIENCY_WORKER_PROCESS: '1', SALIENCY_WASM_THREADS: undefined } });
    expect(r.threads).toMatchObject({ enabled: false, threads: 1, code: 'WORKER_PROCESS' });
    expect(r.actualThreads).toBe(1);
    expect({ cpus: r.restored.cpus, worker: r.restored.worker }).toEqual({ cpus: true, worker: true });
    const two = await runChild('worker-env', `
const b = await initBackend({ quiet: true });
await report(b.wasmThreads, check());
`, { env: { SALIENCY_WORKER_PROCESS: '1', SALIENCY_WASM_THREADS: '2' } });
    expect(two.threads).toMatchObject({ enabled: true, threads: 2, code: 'ENABLED' });
    expect(two.threads.reason).toContain('SALIENCY_WASM_THREADS=2');
    expect(two.actualThreads).toBe(2);
    expect(two.logits).toEqual(single.logits);
  });

  it('a threaded start-up that fails restores everything, stops its workers, and runs single-threaded', async () => {
    // tfjs's own setWasmPaths: the threaded .wasm is corrupt, the other two are the real ones
    const wasmDir = join(dir, 'wasm-corrupt');
    mkdirSync(wasmDir);
    for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) symlinkSync(join(WASM_PKG, 'dist', f), join(wasmDir, f));
    writeFileSync(join(wasmDir, 'tfjs-backend-wasm-threaded-simd.wasm'), Buffer.from('not a wasm module'));
    const r = await runChild('corrupt', `
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
setWasmPaths(${JSON.stringify(`${wasmDir}/`)});
const t = await enableWasmThreads({ threads: 2 });
const restored = check();
const b = await initBackend({ prefer: 'wasm', quiet: true, wasmThreads: 2 });
await report(t, restored, b.wasmThreads);
`);
    expect(r.threads).toMatchObject({ enabled: false, threads: 1, code: 'START_FAILED' });
    expect(r.threads.reason).toMatch(/did not start/);
    expect(r.restored).toEqual(ALL_RESTORED);
    // initBackend afterwards: the loader had already given up, the backend started single-threaded
    expect(r.late).toMatchObject({ enabled: false, threads: 1 });
    expect(r.backend).toBe('wasm');
    expect(r.actualThreads).toBe(1);
    expect(r.logits).toEqual(single.logits);
  });

  it('a threaded start-up that times out does the same', async () => {
    const r = await runChild('timeout', `
const t = await enableWasmThreads({ threads: 2, timeoutMs: 1 });
const restored = check();
const b = await initBackend({ prefer: 'wasm', quiet: true, wasmThreads: false });
await report(t, restored, b.wasmThreads);
`);
    expect(r.threads).toMatchObject({ enabled: false, threads: 1, code: 'START_FAILED' });
    expect(r.threads.reason).toMatch(/took more than 1 ms/);
    expect(r.restored).toEqual(ALL_RESTORED);
    expect(r.backend).toBe('wasm');
    expect(r.actualThreads).toBe(1);
    expect(r.logits).toEqual(single.logits);
  });
});
