import * as tf from '@tensorflow/tfjs-core';
import { bridgeMissingKernels, registerFastBackwardKernels, SaliencyError } from '@saliency/core/base';
import { availableParallelism } from 'node:os';
import { enableWasmThreads, type WasmThreadsResult } from './wasm_threads.js';
import { chooseWasmThreads, type WasmThreadsPlan } from './wasm_threads_policy.js';
import type { BackendChoiceOf, SkippedBackendOf } from '@saliency/core/base';
import { loadWebGpuBackend, type WebGpuAdapter } from './webgpu_backend.js';

/** A tfjs backend `initBackend` can choose, in its order of preference. */
export type NodeBackend = 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /**
   * Force one backend instead of the first that loads. If it cannot be loaded,
   * `initBackend` throws `SaliencyError` with code `BACKEND_UNAVAILABLE`.
   * `'webgpu'` also accepts a CPU (software) adapter such as Mesa's lavapipe.
   */
  prefer?: NodeBackend;
  /**
   * Silence tfjs's own console advice ("Hi, looks like you are running
   * TensorFlow.js in Node.js…", printed by the cpu backend on first use):
   * `initBackend` has already tried the native packages and says why each was
   * skipped in the `skipped` list of the result. Default `false`.
   */
  quiet?: boolean;
  /**
   * Threads of the wasm backend (tfjs turns them off in Node; `@saliency/node`'s worker
   * loader turns them on): `true` for one per core, `false` for one, or a count 1–8.
   * Default: the `SALIENCY_WASM_THREADS` environment variable (`off`, `on`, or a count)
   * if set, else one thread in a worker process of a multi-process run
   * (`SALIENCY_WORKER_PROCESS`, see `workerProcessEnv`), else one per core (at most 8).
   * Threads pay where cores are idle; on a machine already saturated by other processes
   * they are slower (see the performance guide). Takes effect on the call that starts the
   * wasm backend; the result's `wasmThreads` says what was done and why.
   */
  wasmThreads?: boolean | number;
}

/** A backend `initBackend` tried and did not use. */
export type SkippedBackend = SkippedBackendOf<NodeBackend>;

/** What {@link initBackend} chose, and why. */
export type BackendChoice = BackendChoiceOf<NodeBackend> & {
  /** How many threads the wasm backend runs and why (present when wasm was tried). */
  wasmThreads?: WasmThreadsResult;
  /**
   * The WebGPU adapter Dawn found (name, `GPUAdapterInfo` fields, whether it is a CPU
   * device): set when the webgpu backend was chosen, and when it was skipped because its
   * only adapter is a CPU device.
   */
  adapter?: WebGpuAdapter;
};

interface Candidate {
  readonly backend: NodeBackend;
  readonly pkg: string;
  /** The name the package registers its backend under. */
  readonly tfName: string;
}

const CANDIDATES: readonly Candidate[] = [
  { backend: 'tensorflow-gpu', pkg: '@tensorflow/tfjs-node-gpu', tfName: 'tensorflow' },
  { backend: 'webgpu', pkg: 'webgpu', tfName: 'webgpu' },
  { backend: 'tensorflow', pkg: '@tensorflow/tfjs-node', tfName: 'tensorflow' },
  { backend: 'wasm', pkg: '@tensorflow/tfjs-backend-wasm', tfName: 'wasm' },
  { backend: 'cpu', pkg: '@tensorflow/tfjs-backend-cpu', tfName: 'cpu' },
];

/**
 * Imports an optional peer by a specifier only known at run time, so that
 * bundlers (tsup/esbuild, vite) neither resolve nor inline it.
 */
async function importOptional(specifier: string): Promise<unknown> {
  const name = String(specifier);
  return import(/* @vite-ignore */ /* webpackIgnore: true */ name);
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n').find((l) => l.trim() !== '') ?? msg).trim();
}

/** True when `e` says that `pkg` itself (not something it imports) cannot be found. */
function isNotInstalled(e: unknown, pkg: string): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  const notFound = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND'
    // Node: "Cannot find package/module"; vite-node (vitest): "Could not resolve … Is it installed?"
    || /Cannot find (package|module)|Could not resolve|Failed to (load|resolve)/i.test(msg);
  if (!notFound) return false;
  // "Cannot find package '@tensorflow/tfjs-node' imported from …" names the package;
  // a missing file inside it (the native binding) names a path under it instead.
  return new RegExp(`['"\\s]${pkg.replace(/[/\\^$*+?.()|[\]{}-]/g, '\\$&')}['"\\s]`).test(` ${msg} `);
}

function skipReason(e: unknown, pkg: string): string {
  // Node names the importing file ("imported from …/dist/chunk-XXXX.js"): a build detail, not a reason.
  return isNotInstalled(e, pkg) ? `not installed (${firstLine(e).replace(/ imported from \S+$/, '')})` : `failed to load: ${firstLine(e)}`;
}

/** Silences the cpu backend's one-time "install tfjs-node" advice. */
function silenceCpuAdvice(): void {
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: unknown } | null;
  if (cpu != null && typeof cpu.firstUse === 'boolean') cpu.firstUse = false;
}

/** The first line of the error the backend's factory throws or rejects with ('' if none). */
async function factoryError(name: string): Promise<string> {
  const factory = tf.findBackendFactory(name) as (() => unknown) | null;
  if (factory == null) return '';
  try {
    const backend = await factory();
    (backend as { dispose?: () => void } | null)?.dispose?.();
    return '';
  } catch (e) {
    return `: ${firstLine(e)}`;
  }
}

/** Imports `c.pkg` and makes its backend active; returns null on success or why it failed. */
async function tryCandidate(c: Candidate): Promise<string | null> {
  const registeredBefore = tf.findBackendFactory(c.tfName) != null;
  try {
    await importOptional(c.pkg);
  } catch (e) {
    // A native package that is present but broken (no libtensorflow) throws a
    // plain Error, possibly after registering its backend: unregister what this
    // failed import registered, so that tf.ready() never picks it.
    if (!registeredBefore && tf.findBackendFactory(c.tfName) != null) tf.removeBackend(c.tfName);
    return skipReason(e, c.pkg);
  }
  if (tf.findBackendFactory(c.tfName) == null) {
    return `loaded, but no '${c.tfName}' backend is registered with this @tensorflow/tfjs-core `
      + `(${tf.version_core}); is ${c.pkg} built against another copy of tfjs-core?`;
  }
  let ok = false;
  let why = '';
  try {
    ok = await tf.setBackend(c.tfName);
  } catch (e) {
    why = `: ${firstLine(e)}`;
  }
  if (!ok || tf.getBackend() !== c.tfName) {
    // tfjs swallowed (and logged) the factory's error: run the factory once more to report it.
    if (why === '') why = await factoryError(c.tfName);
    // A broken backend, never to be picked by tf.ready().
    if (c.tfName === 'tensorflow') tf.removeBackend(c.tfName);
    return `loaded, but tf.setBackend('${c.tfName}') failed${why}`;
  }
  return null;
}

/** Starts the threaded wasm build when the plan asks for more than one thread. */
async function startWasmThreads(plan: WasmThreadsPlan): Promise<WasmThreadsResult> {
  if (plan.threads === 1) {
    const code = plan.source === 'worker-process' ? 'WORKER_PROCESS' : plan.source === 'cores' ? 'ONE_CORE' : 'OFF';
    return { enabled: false, threads: 1, code, reason: plan.reason };
  }
  const r = await enableWasmThreads({ threads: plan.threads });
  return { ...r, reason: r.enabled ? plan.reason : `${r.reason} (asked for ${plan.reason})` };
}

/** The result corrected by what the running wasm backend reports (threads started by an earlier call). */
async function actualWasmThreads(r: WasmThreadsResult): Promise<WasmThreadsResult> {
  try {
    const m = await importOptional('@tensorflow/tfjs-backend-wasm') as { getThreadsCount?: () => number; default?: { getThreadsCount?: () => number } };
    const n = (m.getThreadsCount ?? m.default?.getThreadsCount)?.() ?? r.threads;
    if (n > 1 && !r.enabled) return { enabled: true, threads: n, code: 'ENABLED', reason: `${n} threads: started earlier in this process (now: ${r.reason})` };
    return r;
  } catch {
    return r;
  }
}

/**
 * Chooses and activates the fastest tfjs backend that works in this Node.js
 * process, in this order: `@tensorflow/tfjs-node-gpu` (CUDA) →
 * `@tensorflow/tfjs-backend-webgpu` over Dawn (the optional `webgpu` package: any GPU
 * with a Vulkan driver, no native build) → `@tensorflow/tfjs-node` →
 * `@tensorflow/tfjs-backend-wasm` (SIMD) → `@tensorflow/tfjs-backend-cpu`. Each is an
 * optional package loaded with a dynamic `import()`; a package that is missing or broken
 * is skipped with its reason, and its success is confirmed with `tf.setBackend`.
 * WebGPU is skipped when Dawn's adapter is a CPU device (lavapipe, SwiftShader), which is
 * slower than wasm, unless `prefer: 'webgpu'`; `adapter` in the result names it.
 *
 * The cpu backend is always imported too: on wasm, the gradient kernels wasm
 * lacks are registered (`bridgeMissingKernels('wasm')`, built from wasm's own
 * kernels, with cpu as the fallback for what those do not cover), so
 * `tf.grad` works through conv nets. wasm finds its `.wasm` files inside its
 * package in Node (no `setWasmPaths` needed); it runs one thread per core by default
 * (tfjs disables threads in Node; our loader enables them), see `wasmThreads`.
 * Gradient functions themselves come from `@tensorflow/tfjs-layers`, which
 * `@saliency/core/base` imports.
 *
 * Safe to call again: imports are cached and the kernels are registered once.
 *
 * @param opts - `prefer` forces one backend; `quiet` silences tfjs's console advice;
 *   `wasmThreads` sets the wasm thread count.
 * @returns the chosen backend, the package that provided it, what was skipped and why,
 *   which gradient kernels were registered, and (wasm) the threads and why.
 * @throws SaliencyError `BACKEND_UNAVAILABLE` when `prefer` names a backend that cannot
 *   be loaded, or (without `prefer`) when not even the cpu backend loads.
 *
 * @example
 * ```ts
 * const b = await initBackend();
 * console.log(`${b.name} via ${b.via}`, b.skipped.map((s) => `${s.backend}: ${s.reason}`));
 * ```
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendChoice> {
  const { prefer, quiet = false, wasmThreads } = opts;
  if (wasmThreads != null && typeof wasmThreads !== 'boolean' && typeof wasmThreads !== 'number') {
    throw new SaliencyError('BAD_OPTION', `wasmThreads must be true, false or a thread count 1–8; got ${String(wasmThreads)}.`);
  }
  // Throws BAD_OPTION for a bad option or SALIENCY_WASM_THREADS, before loading anything.
  const plan = chooseWasmThreads(wasmThreads, process.env, availableParallelism());
  if (prefer != null && !CANDIDATES.some((c) => c.backend === prefer)) {
    throw new SaliencyError('BAD_OPTION',
      `prefer must be one of ${CANDIDATES.map((c) => `'${c.backend}'`).join(', ')}; got '${String(prefer)}'.`);
  }
  // The cpu backend first: it is the last resort and the fallback of the kernel bridge.
  let cpuError: unknown = null;
  try {
    await importOptional('@tensorflow/tfjs-backend-cpu');
  } catch (e) {
    cpuError = e ?? new Error('import failed');
  }
  if (quiet) silenceCpuAdvice();

  const candidates = prefer != null ? CANDIDATES.filter((c) => c.backend === prefer) : CANDIDATES;
  const skipped: SkippedBackend[] = [];
  let threads: WasmThreadsResult | undefined;
  let adapter: WebGpuAdapter | undefined;
  for (const c of candidates) {
    if (c.backend === 'wasm' && threads == null) threads = await startWasmThreads(plan);
    if (c.backend === 'webgpu') {
      const w = await loadWebGpuBackend({ allowCpuAdapter: prefer === 'webgpu', importOptional, importFailure: skipReason });
      if (w.adapter != null) adapter = w.adapter;
      if (w.reason != null) {
        skipped.push({ backend: c.backend, package: c.pkg, reason: w.reason });
        continue;
      }
      if (quiet) silenceCpuAdvice();
      return { name: tf.getBackend(), via: c.pkg, skipped, bridgedKernels: w.bridgedKernels, adapter: w.adapter };
    }
    const reason = c.backend === 'cpu' && cpuError != null ? skipReason(cpuError, c.pkg) : await tryCandidate(c);
    if (reason != null) {
      skipped.push({ backend: c.backend, package: c.pkg, reason });
      continue;
    }
    const bridged = c.tfName === 'wasm' ? bridgeMissingKernels('wasm', 'cpu') : [];
    // Faster backward kernels built on wasm's forward ones (conv input gradients), for plain tf.grad users too.
    if (c.tfName === 'wasm') registerFastBackwardKernels('wasm');
    if (c.tfName === 'wasm' && threads != null) threads = await actualWasmThreads(threads);
    if (quiet) silenceCpuAdvice();
    return {
      name: tf.getBackend(), via: c.pkg, skipped, bridgedKernels: bridged,
      ...(threads != null ? { wasmThreads: threads } : {}), ...(adapter != null ? { adapter } : {}),
    };
  }
  const tried = skipped.map((s) => `[${s.backend} via ${s.package}: ${s.reason}]`).join(' ');
  if (prefer != null) {
    throw new SaliencyError('BACKEND_UNAVAILABLE',
      `The '${prefer}' backend cannot be loaded: ${tried}. Install its package, or call initBackend() without 'prefer' to use the best available one.`);
  }
  throw new SaliencyError('BACKEND_UNAVAILABLE',
    `No tfjs backend could be loaded: ${tried}. Install @tensorflow/tfjs-backend-cpu (and @tensorflow/tfjs-backend-wasm for speed).`);
}
