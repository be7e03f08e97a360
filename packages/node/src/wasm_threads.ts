/*
 * Multi-threaded tfjs wasm backend in Node.js.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build (`tfjs-backend-wasm-threaded-simd.wasm`
 * and its Emscripten glue) but never uses it in Node, for three reasons this module works around:
 *  1. its `WASM_HAS_MULTITHREAD_SUPPORT` flag returns false whenever `IS_NODE`;
 *  2. Emscripten starts its pthread pool (8 workers) with `new Worker(locateFile('….worker.js'))`,
 *     and tfjs's `locateFile` answers a `blob:` URL, which Node's `worker_threads.Worker` refuses
 *     (`ERR_WORKER_PATH`); the worker script then loads the main script from a `Blob`
 *     (`mainScriptUrlOrBlob`) through `URL.createObjectURL` + `fs.readFileSync`, which cannot
 *     read a `blob:` URL either;
 *  3. tfjs's C++ caps the thread count at `logical cores / 2` (it assumes two hyper-threads per
 *     core), i.e. one thread on a 2-vCPU machine.
 * While the backend initialises, `worker_threads.Worker` is swapped for a subclass that starts the
 * `blob:` worker from the same worker script (tfjs's own `wasmWorkerContents`), evaluated in place,
 * with its `Blob` branch pointed at the glue file inside the package; `os.cpus()` reports twice
 * the requested thread count so that the cap allows it. Both are restored before returning.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Options of {@link enableWasmThreads}. */
export interface WasmThreadsOptions {
  /**
   * Threads for XNNPACK's pool (the calling thread included). Default: the number
   * of logical CPUs (`os.availableParallelism()`), at most 8 (the size of the
   * pthread pool tfjs's build starts).
   */
  threads?: number;
  /** Give up (and keep the single-threaded build) if the backend takes longer to start. Default 30 000 ms. */
  timeoutMs?: number;
}

/** What {@link enableWasmThreads} did. */
export interface WasmThreadsResult {
  /** True when the wasm backend now runs the threaded SIMD build with more than one thread. */
  readonly enabled: boolean;
  /** Threads XNNPACK uses (`getThreadsCount()` of tfjs-backend-wasm); 1 when not enabled. */
  readonly threads: number;
  /** Why threads are not enabled (absent when they are). */
  readonly reason?: string;
}

interface WasmModuleLike {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

type WorkerCtor = new (filename: string | URL, options?: Record<string, unknown>) => unknown;

const GLUE = 'wasm-out/tfjs-backend-wasm-threaded-simd.js';
const WORKER = 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';
/** The worker script's branch that loads the main script from a Blob (tfjs-backend-wasm 4.22). */
const BLOB_BRANCH = 'else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';

let state: WasmThreadsResult | null = null;

/** Errors as one line. */
function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n').find((l) => l.trim() !== '') ?? msg).trim();
}

/**
 * The worker script Emscripten's pthreads run, made loadable by Node: tfjs's own
 * `wasmWorkerContents` with its Blob branch replaced by a file import of `glue`.
 * Null when the script does not have the expected shape (another tfjs version).
 *
 * @param workerContents - tfjs's `wasmWorkerContents` string.
 * @param glue - absolute path of `tfjs-backend-wasm-threaded-simd.js`.
 * @internal
 */
export function threadedWorkerScript(workerContents: string, glue: string): string | null {
  if (!workerContents.includes(BLOB_BRANCH)) return null;
  // tfjs escapes newlines the same way before making its Blob (the script holds "\n" in strings).
  return workerContents.replace(/\n/g, '\\n').replace(BLOB_BRANCH, `else{importScripts(${JSON.stringify(glue)})}`);
}

/** Starts `code` as an eval'd worker and resolves once it runs (rejects on a syntax error). */
async function probeWorker(Worker: WorkerCtor, code: string, timeoutMs: number): Promise<void> {
  const w = new Worker(code, { eval: true }) as {
    once(ev: string, f: (e?: unknown) => void): void; terminate(): Promise<number>;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not start within ${timeoutMs} ms`)), timeoutMs);
      w.once('online', () => { clearTimeout(timer); resolve(); });
      w.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
  } finally {
    await w.terminate();
  }
}

/**
 * The initialised wasm backend instance, or null. (`tf.findBackend` would START
 * initialising a registered backend, before the threads are set up.)
 */
function wasmInstance(): unknown {
  const registry = (tf.engine() as unknown as { registry?: Record<string, unknown> }).registry;
  return registry?.wasm ?? null;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

/**
 * Makes the tfjs wasm backend run multi-threaded in Node.js (XNNPACK's thread pool
 * over `worker_threads`), and activates it. Call it BEFORE anything initialises the
 * wasm backend (`tf.setBackend('wasm')`, `tf.ready()`, `initBackend()`); afterwards
 * `initBackend({ prefer: 'wasm' })` keeps the threaded backend.
 *
 * Never throws for an environment that cannot do it: the result says why
 * (`enabled: false`), and the backend is left to start single-threaded as usual.
 * If the wasm backend was already initialised single-threaded it is left alone.
 * Results are identical to the single-threaded build (XNNPACK splits work between
 * threads, not sums).
 *
 * Side effects while the backend starts (restored before returning): `os.cpus()`
 * reports twice the thread count (tfjs's C++ allows logical cores / 2 threads) and
 * `worker_threads.Worker` starts tfjs's `blob:` worker from its script in memory.
 * Emscripten itself sets `globalThis.Worker` in Node, as it always does.
 *
 * @param opts - `threads` (default: logical CPUs, at most 8), `timeoutMs`.
 * @returns whether threads are on, how many, and otherwise why not.
 *
 * @example
 * ```ts
 * const t = await enableWasmThreads();
 * const b = await initBackend({ prefer: 'wasm' });
 * console.log(b.name, t.enabled ? `${t.threads} threads` : t.reason);
 * ```
 */
export async function enableWasmThreads(opts: WasmThreadsOptions = {}): Promise<WasmThreadsResult> {
  if (state != null) return state;
  const result = await enable(opts);
  // Only a definitive outcome is remembered (a backend that started, either way).
  if (result.enabled || wasmInstance() != null) state = result;
  return result;
}

async function enable(opts: WasmThreadsOptions): Promise<WasmThreadsResult> {
  const off = (reason: string): WasmThreadsResult => ({ enabled: false, threads: 1, reason });
  const require = createRequire(import.meta.url);
  const os = require('node:os') as { cpus(): unknown[]; availableParallelism?: () => number };
  const wanted = opts.threads ?? Math.min(8, os.availableParallelism?.() ?? os.cpus().length);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > 8) {
    return off(`threads must be an integer from 1 to 8 (tfjs's pthread pool has 8 workers); got ${String(opts.threads)}`);
  }
  if (typeof SharedArrayBuffer === 'undefined') return off('SharedArrayBuffer is not available');
  let wasm: WasmModuleLike;
  let dir: string;
  try {
    const m = await import(/* @vite-ignore */ String('@tensorflow/tfjs-backend-wasm')) as Partial<WasmModuleLike> & { default?: WasmModuleLike };
    wasm = typeof m.setThreadsCount === 'function' ? m as WasmModuleLike : m.default as WasmModuleLike;
    dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  } catch (e) {
    return off(`@tensorflow/tfjs-backend-wasm cannot be loaded: ${firstLine(e)}`);
  }
  if (wasmInstance() != null) {
    const n = wasm.getThreadsCount();
    return n > 1 ? { enabled: true, threads: n } : off('the wasm backend was already initialised single-threaded; call enableWasmThreads() before initBackend() or tf.setBackend(\'wasm\')');
  }
  if (wanted === 1) return off('threads: 1 asked for');
  const glue = join(dir, GLUE);
  if (!existsSync(glue) || !existsSync(join(dir, WORKER)) || !existsSync(join(dir, 'dist/tfjs-backend-wasm-threaded-simd.wasm'))) {
    return off(`the threaded build is missing from ${dir}`);
  }
  const { wasmWorkerContents } = require(join(dir, WORKER)) as { wasmWorkerContents?: unknown };
  const script = typeof wasmWorkerContents === 'string' ? threadedWorkerScript(wasmWorkerContents, glue) : null;
  if (script == null) return off('the threaded build\'s worker script is not the one this version of @saliency/node knows (tfjs-backend-wasm 4.22)');
  const wt = require('node:worker_threads') as { Worker: WorkerCtor };
  const NodeWorker = wt.Worker;
  try {
    await probeWorker(NodeWorker, script, timeoutMs);
  } catch (e) {
    return off(`a worker_threads worker cannot run the pthread script: ${firstLine(e)}`);
  }
  const factory = tf.findBackendFactory('wasm');
  if (factory == null) return off('no \'wasm\' backend is registered with this @tensorflow/tfjs-core');

  class BlobWorker extends (NodeWorker as unknown as new (f: string | URL, o?: Record<string, unknown>) => object) {
    constructor(filename: string | URL, options?: Record<string, unknown>) {
      if (typeof filename === 'string' && filename.startsWith('blob:')) super(script as string, { ...options, eval: true });
      else super(filename, options);
    }
  }
  const cpus = os.cpus;
  const flag = tf.env().getFlags().WASM_HAS_MULTITHREAD_SUPPORT;
  wt.Worker = BlobWorker as unknown as WorkerCtor;
  os.cpus = () => {
    const list = cpus.call(os);
    return Array.from({ length: Math.max(list.length, 2 * wanted) }, (_, i) => list[i % Math.max(1, list.length)]);
  };
  let ok = false;
  let why = '';
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(wanted);
    ok = await withTimeout(tf.setBackend('wasm'), timeoutMs, 'starting the threaded wasm backend');
  } catch (e) {
    why = firstLine(e);
  } finally {
    os.cpus = cpus;
    wt.Worker = NodeWorker;
  }
  if (!ok || wasmInstance() == null) {
    // Leave a clean, single-threaded wasm backend to initialise later.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', flag ?? false);
    wasm.setThreadsCount(-1);
    tf.removeBackend('wasm');
    tf.registerBackend('wasm', factory, 2);
    return off(`the threaded wasm backend did not start${why === '' ? '' : `: ${why}`}`);
  }
  // XNNPACK's pool threads live as long as the backend; Emscripten keeps a reference on
  // each running worker, which would keep the Node process from exiting at the end.
  const module = (wasmInstance() as { wasm?: { PThread?: { runningWorkers?: Array<{ unref?: () => void }> } } } | null)?.wasm;
  for (const w of module?.PThread?.runningWorkers ?? []) w.unref?.();
  const threads = wasm.getThreadsCount();
  return threads > 1 ? { enabled: true, threads } : off(`tfjs started ${threads} thread(s)`);
}
