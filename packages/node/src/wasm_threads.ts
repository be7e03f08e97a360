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
 * the requested thread count so that the cap allows it. Both are restored before returning, also
 * when start-up fails or times out; then every worker the attempt started is terminated (so the
 * process can still exit), the process listeners Emscripten added are removed, and the backend
 * is left to start single-threaded. A tfjs-backend-wasm other than 4.22 is refused up front.
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
  /**
   * Give up (terminate the workers, keep the single-threaded build) if the threaded
   * backend takes longer to start. Default 30 000 ms.
   */
  timeoutMs?: number;
}

/**
 * Why the wasm backend runs with the threads it runs:
 * - `ENABLED`: the threaded build runs with more than one thread;
 * - `OFF`: one thread was asked for (option or environment variable);
 * - `ONE_CORE`: the machine has one core;
 * - `WORKER_PROCESS`: a worker process of a multi-process run (one thread each);
 * - `ALREADY_STARTED`: the wasm backend had already started single-threaded;
 * - `UNSUPPORTED_TFJS`: the installed tfjs-backend-wasm is not the version the loader knows (4.22);
 * - `UNAVAILABLE`: no SharedArrayBuffer, no tfjs-backend-wasm, no threaded build, or workers cannot run it;
 * - `START_FAILED`: the threaded build failed or timed out while starting (then single-threaded).
 */
export type WasmThreadsCode =
  | 'ENABLED'
  | 'OFF'
  | 'ONE_CORE'
  | 'WORKER_PROCESS'
  | 'ALREADY_STARTED'
  | 'UNSUPPORTED_TFJS'
  | 'UNAVAILABLE'
  | 'START_FAILED';

/** What {@link enableWasmThreads} (or `initBackend`) did about wasm threads. */
export interface WasmThreadsResult {
  /** True when the wasm backend now runs the threaded SIMD build with more than one thread. */
  readonly enabled: boolean;
  /** Threads XNNPACK uses (`getThreadsCount()` of tfjs-backend-wasm); 1 when not enabled. */
  readonly threads: number;
  /** Why, as a stable code. */
  readonly code: WasmThreadsCode;
  /** Why, in one sentence. */
  readonly reason: string;
}

/** The tfjs-backend-wasm versions whose threaded build this loader knows (major.minor). */
export const KNOWN_WASM_VERSION = '4.22';

interface WasmModuleLike {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
  version_wasm?: string;
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
 * Why a tfjs-backend-wasm of version `version` cannot be made threaded by this loader
 * (null when it can): it relies on 4.22's internals (the worker script, the thread cap,
 * Emscripten's pthread pool).
 *
 * @param version - `version_wasm` of the installed tfjs-backend-wasm.
 * @internal
 */
export function unsupportedWasmVersion(version: string | undefined): string | null {
  if (version != null && (version === KNOWN_WASM_VERSION || version.startsWith(`${KNOWN_WASM_VERSION}.`))) return null;
  return `@tensorflow/tfjs-backend-wasm ${version ?? '(unknown version)'} is installed; the thread loader of @saliency/node knows ${KNOWN_WASM_VERSION}.x only, so the backend runs single-threaded`;
}

/**
 * Makes the tfjs wasm backend run multi-threaded in Node.js (XNNPACK's thread pool
 * over `worker_threads`), and activates it. `initBackend()` calls it for you (one
 * thread per core by default); call it yourself only BEFORE anything initialises the
 * wasm backend (`tf.setBackend('wasm')`, `tf.ready()`, `initBackend()`); afterwards
 * `initBackend({ prefer: 'wasm' })` keeps the threaded backend.
 *
 * Never throws for an environment that cannot do it: the result says why
 * (`enabled: false` with a `code` and a `reason`), and the backend is left to start
 * single-threaded as usual. If the wasm backend was already initialised
 * single-threaded it is left alone. Results are identical to the single-threaded
 * build (XNNPACK splits work between threads, not sums).
 *
 * Side effects while the backend starts, undone before returning whether it starts
 * or not: `os.cpus()` reports twice the thread count (tfjs's C++ allows logical
 * cores / 2 threads) and `worker_threads.Worker` starts tfjs's `blob:` worker from its
 * script in memory. If start-up fails or times out, the workers it started are
 * terminated, `globalThis.Worker` and the process listeners Emscripten added are
 * restored. Once started, the pool's workers do not keep the process alive.
 *
 * @param opts - `threads` (default: logical CPUs, at most 8), `timeoutMs`.
 * @returns whether threads are on, how many, and why (`code`, `reason`).
 *
 * @example
 * ```ts
 * const t = await enableWasmThreads({ threads: 4 });
 * const b = await initBackend({ prefer: 'wasm' });
 * console.log(b.name, t.code, t.reason);
 * ```
 */
export async function enableWasmThreads(opts: WasmThreadsOptions = {}): Promise<WasmThreadsResult> {
  if (state != null) return state;
  const result = await enable(opts);
  // A definitive outcome is remembered: a backend that started (either way), or a threaded
  // build that cannot start here (asking again would only repeat the attempt).
  if (result.enabled || wasmInstance() != null || ['START_FAILED', 'UNSUPPORTED_TFJS', 'UNAVAILABLE'].includes(result.code)) state = result;
  return result;
}

/** How long a probe worker may take to start before the pthread script is declared unusable. */
const PROBE_TIMEOUT_MS = 30_000;

/** The process listeners Emscripten's Node glue adds (and never removes). */
const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;
/** `process` seen through the listener methods used here. */
const proc = process as unknown as {
  listeners(ev: string): Array<(...args: unknown[]) => void>;
  removeListener(ev: string, l: (...args: unknown[]) => void): void;
};

async function enable(opts: WasmThreadsOptions): Promise<WasmThreadsResult> {
  const off = (code: WasmThreadsCode, reason: string): WasmThreadsResult => ({ enabled: false, threads: 1, code, reason });
  const require = createRequire(import.meta.url);
  const os = require('node:os') as { cpus(): unknown[]; availableParallelism?: () => number };
  const wanted = opts.threads ?? Math.min(8, os.availableParallelism?.() ?? os.cpus().length);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > 8) {
    return off('OFF', `threads must be an integer from 1 to 8 (tfjs's pthread pool has 8 workers); got ${String(opts.threads)}`);
  }
  if (typeof SharedArrayBuffer === 'undefined') return off('UNAVAILABLE', 'SharedArrayBuffer is not available');
  let wasm: WasmModuleLike;
  try {
    const m = await import(/* @vite-ignore */ String('@tensorflow/tfjs-backend-wasm')) as Partial<WasmModuleLike> & { default?: WasmModuleLike };
    wasm = typeof m.setThreadsCount === 'function' ? m as WasmModuleLike : m.default as WasmModuleLike;
  } catch (e) {
    return off('UNAVAILABLE', `@tensorflow/tfjs-backend-wasm cannot be loaded: ${firstLine(e)}`);
  }
  if (wasmInstance() != null) {
    const n = wasm.getThreadsCount();
    return n > 1
      ? { enabled: true, threads: n, code: 'ENABLED', reason: `${n} threads (started earlier)` }
      : off('ALREADY_STARTED', 'the wasm backend was already initialised single-threaded; call enableWasmThreads() before initBackend() or tf.setBackend(\'wasm\')');
  }
  if (wanted === 1) return off('OFF', 'threads: 1 asked for');
  const unsupported = unsupportedWasmVersion(wasm.version_wasm);
  if (unsupported != null) return off('UNSUPPORTED_TFJS', unsupported);
  const dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const glue = join(dir, GLUE);
  if (!existsSync(glue) || !existsSync(join(dir, WORKER)) || !existsSync(join(dir, 'dist/tfjs-backend-wasm-threaded-simd.wasm'))) {
    return off('UNAVAILABLE', `the threaded build is missing from ${dir}`);
  }
  const { wasmWorkerContents } = require(join(dir, WORKER)) as { wasmWorkerContents?: unknown };
  const script = typeof wasmWorkerContents === 'string' ? threadedWorkerScript(wasmWorkerContents, glue) : null;
  if (script == null) return off('UNSUPPORTED_TFJS', `the threaded build's worker script is not the one this version of @saliency/node knows (tfjs-backend-wasm ${KNOWN_WASM_VERSION})`);
  const wt = require('node:worker_threads') as { Worker: WorkerCtor };
  const NodeWorker = wt.Worker;
  try {
    await probeWorker(NodeWorker, script, PROBE_TIMEOUT_MS);
  } catch (e) {
    return off('UNAVAILABLE', `a worker_threads worker cannot run the pthread script: ${firstLine(e)}`);
  }
  const factory = tf.findBackendFactory('wasm');
  if (factory == null) return off('UNAVAILABLE', 'no \'wasm\' backend is registered with this @tensorflow/tfjs-core');

  /** Every worker this attempt starts: terminated if start-up fails. */
  const started: Array<{ terminate(): Promise<number>; unref(): void }> = [];
  class BlobWorker extends (NodeWorker as unknown as new (f: string | URL, o?: Record<string, unknown>) => object) {
    constructor(filename: string | URL, options?: Record<string, unknown>) {
      if (typeof filename === 'string' && filename.startsWith('blob:')) super(script as string, { ...options, eval: true });
      else super(filename, options);
      started.push(this as unknown as { terminate(): Promise<number>; unref(): void });
    }
  }
  const cpus = os.cpus;
  const flag = tf.env().getFlags().WASM_HAS_MULTITHREAD_SUPPORT;
  const g = globalThis as { Worker?: unknown };
  const hadGlobalWorker = Object.prototype.hasOwnProperty.call(g, 'Worker');
  const globalWorker = g.Worker;
  const listeners = new Map(PROCESS_EVENTS.map((ev) => [ev, proc.listeners(ev)]));
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
    // Stop the pthread pool (its workers would keep the process alive), undo what the
    // threaded glue changed, and leave a clean, single-threaded wasm backend to initialise later.
    for (const w of started) {
      w.unref();
      void w.terminate().catch(() => undefined);
    }
    if (hadGlobalWorker) g.Worker = globalWorker;
    else delete g.Worker;
    for (const ev of PROCESS_EVENTS) {
      const before = listeners.get(ev) ?? [];
      for (const l of proc.listeners(ev)) if (!before.includes(l)) proc.removeListener(ev, l);
    }
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', flag ?? false);
    wasm.setThreadsCount(-1);
    tf.removeBackend('wasm');
    tf.registerBackend('wasm', factory, 2);
    return off('START_FAILED', `the threaded wasm backend did not start${why === '' ? '' : `: ${why}`}; running single-threaded`);
  }
  // XNNPACK's pool threads live as long as the backend; Emscripten keeps a reference on
  // each running worker, which would keep the Node process from exiting at the end.
  const module = (wasmInstance() as { wasm?: { PThread?: { runningWorkers?: Array<{ unref?: () => void }> } } } | null)?.wasm;
  for (const w of module?.PThread?.runningWorkers ?? []) w.unref?.();
  const threads = wasm.getThreadsCount();
  return threads > 1
    ? { enabled: true, threads, code: 'ENABLED', reason: `${threads} threads` }
    : off('START_FAILED', `tfjs started ${threads} thread(s)`);
}
