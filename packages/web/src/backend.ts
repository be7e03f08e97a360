import * as tf from '@tensorflow/tfjs-core';
import { bridgeMissingKernels, SaliencyError } from '@saliency/core/base';
import type { BackendChoiceOf, SkippedBackendOf } from '@saliency/core/base';

/** A tfjs backend the browser `initBackend` can choose, in its order of preference. */
export type WebBackend = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** Where the wasm backend finds its three `.wasm` files (see `setWasmPaths` of `@tensorflow/tfjs-backend-wasm`). */
export type WasmPaths = string | {
  /** URL of `tfjs-backend-wasm.wasm`. */
  'tfjs-backend-wasm.wasm'?: string;
  /** URL of `tfjs-backend-wasm-simd.wasm`. */
  'tfjs-backend-wasm-simd.wasm'?: string;
  /** URL of `tfjs-backend-wasm-threaded-simd.wasm`. */
  'tfjs-backend-wasm-threaded-simd.wasm'?: string;
};

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /**
   * Force one backend instead of the first that works. If it cannot be
   * started, `initBackend` throws `SaliencyError` with code `BACKEND_UNAVAILABLE`.
   */
  prefer?: WebBackend;
  /**
   * Where the wasm backend's `.wasm` files are served: a folder URL ending in
   * `/` (the three files copied there from `@tensorflow/tfjs-backend-wasm/dist`)
   * or one URL per file. Bundlers do not copy these files; without this option
   * the wasm backend looks next to the script that loaded it.
   */
  wasmPaths?: WasmPaths;
}

/** A backend `initBackend` tried and did not use. */
export type SkippedBackend = SkippedBackendOf<WebBackend>;

/** What {@link initBackend} chose, and why. */
export interface BackendChoice extends BackendChoiceOf<WebBackend> {
  /**
   * The WebGPU adapter, as `vendor/architecture` (e.g. `'google/swiftshader'`,
   * SwiftShader being Chromium's software GPU); absent for the other backends.
   */
  adapter?: string;
}

interface Candidate {
  readonly backend: WebBackend;
  readonly pkg: string;
  /** Imports the package (literal specifiers, so bundlers include and split them). */
  readonly load: () => Promise<unknown>;
}

const CANDIDATES: readonly Candidate[] = [
  { backend: 'webgpu', pkg: '@tensorflow/tfjs-backend-webgpu', load: () => import('@tensorflow/tfjs-backend-webgpu') },
  { backend: 'webgl', pkg: '@tensorflow/tfjs-backend-webgl', load: () => import('@tensorflow/tfjs-backend-webgl') },
  { backend: 'wasm', pkg: '@tensorflow/tfjs-backend-wasm', load: () => import('@tensorflow/tfjs-backend-wasm') },
  { backend: 'cpu', pkg: '@tensorflow/tfjs-backend-cpu', load: () => import('@tensorflow/tfjs-backend-cpu') },
];

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string };
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n').find((l) => l.trim() !== '') ?? msg).trim();
}

function gpu(): GpuLike | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  return nav?.gpu;
}

function describeAdapter(a: GpuAdapterLike): string {
  const vendor = a.info?.vendor || 'unknown vendor';
  const arch = a.info?.architecture || a.info?.description || 'unknown architecture';
  return `${vendor}/${arch}`;
}

/** Checks for WebGPU before importing its backend; returns why it cannot work, or the adapter. */
async function webgpuPrecheck(): Promise<{ reason: string } | { adapter: string }> {
  const g = gpu();
  if (g == null) {
    const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
    return {
      reason: 'navigator.gpu is not available ('
        + (secure === false ? 'the page is not a secure context: serve it over https or from localhost'
          : 'this browser has no WebGPU, or it is disabled') + ')',
    };
  }
  let adapter: GpuAdapterLike | null = null;
  try {
    adapter = await g.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { reason: `no WebGPU adapter (requestAdapter() threw: ${firstLine(e)})` };
  }
  if (adapter == null) return { reason: 'no WebGPU adapter (requestAdapter() returned null: WebGPU is blocked or unsupported on this GPU)' };
  return { adapter: describeAdapter(adapter) };
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

/** Imports `c`'s package and makes its backend active; returns null on success or why it failed. */
async function tryCandidate(c: Candidate, opts: InitBackendOptions): Promise<string | null> {
  let mod: unknown;
  try {
    mod = await c.load();
  } catch (e) {
    return `failed to load: ${firstLine(e)}`;
  }
  if (c.backend === 'wasm' && opts.wasmPaths != null) {
    const setWasmPaths = (mod as { setWasmPaths?: (p: WasmPaths) => void }).setWasmPaths;
    if (typeof setWasmPaths === 'function') setWasmPaths(opts.wasmPaths);
  }
  if (tf.findBackendFactory(c.backend) == null) {
    if (c.backend === 'webgl') {
      return 'loaded, but it registered no \'webgl\' backend (it only does so in a browser page or worker)';
    }
    return `loaded, but no '${c.backend}' backend is registered with this @tensorflow/tfjs-core `
      + `(${tf.version_core}); is ${c.pkg} built against another copy of tfjs-core?`;
  }
  let ok = false;
  let why = '';
  try {
    ok = await tf.setBackend(c.backend);
  } catch (e) {
    why = `: ${firstLine(e)}`;
  }
  if (!ok || tf.getBackend() !== c.backend) {
    // tfjs swallowed (and logged) the factory's error: run the factory once more to report it.
    if (why === '') why = await factoryError(c.backend);
    return `loaded, but tf.setBackend('${c.backend}') failed${why}`;
  }
  return null;
}

/**
 * Chooses and activates the fastest tfjs backend that works in this browser,
 * in this order: `@tensorflow/tfjs-backend-webgpu` → `@tensorflow/tfjs-backend-webgl`
 * → `@tensorflow/tfjs-backend-wasm` → `@tensorflow/tfjs-backend-cpu`. Each is
 * loaded with a dynamic `import()` (bundlers split it into its own chunk), and
 * its success is confirmed with `tf.setBackend`. WebGPU is checked first
 * (`navigator.gpu`, then an adapter), so a browser without it is skipped with
 * a reason instead of an exception.
 *
 * The cpu backend is always imported too: it is the last resort and the
 * fallback of the gradient-kernel bridge. Gradient kernels the chosen backend
 * lacks are registered for it (`bridgeMissingKernels`, in `@saliency/core/base`;
 * wasm lacks four, WebGPU and WebGL none), so `tf.grad` works through conv nets.
 * Gradient functions themselves come from `@tensorflow/tfjs-layers`, which
 * `@saliency/core/base` imports.
 *
 * Safe to call again: imports are cached and kernels are registered once.
 * Nothing here needs Node.js; it also runs in Node, where WebGPU and WebGL are
 * skipped with their reasons.
 *
 * @param opts - `prefer` forces one backend; `wasmPaths` says where the wasm files are served.
 * @returns the chosen backend, the package that provided it, what was skipped and why,
 *   which gradient kernels were registered, and the WebGPU adapter.
 * @throws SaliencyError `BAD_OPTION` for an unknown `prefer`; `BACKEND_UNAVAILABLE` when
 *   `prefer` names a backend that cannot be started, or (without `prefer`) when none can.
 *
 * @example
 * ```ts
 * const b = await initBackend({ wasmPaths: '/tfjs-wasm/' });
 * status.textContent = `${b.name}${b.adapter ? ` (${b.adapter})` : ''}`;
 * for (const s of b.skipped) console.info(`skipped ${s.backend}: ${s.reason}`);
 * ```
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendChoice> {
  const { prefer } = opts;
  if (prefer != null && !CANDIDATES.some((c) => c.backend === prefer)) {
    throw new SaliencyError('BAD_OPTION',
      `prefer must be one of ${CANDIDATES.map((c) => `'${c.backend}'`).join(', ')}; got '${String(prefer)}'.`);
  }
  // The cpu backend first: it is the last resort and the fallback of the kernel bridge.
  let cpuError: unknown = null;
  try {
    await (CANDIDATES[3] as Candidate).load();
  } catch (e) {
    cpuError = e ?? new Error('import failed');
  }

  const candidates = prefer != null ? CANDIDATES.filter((c) => c.backend === prefer) : CANDIDATES;
  const skipped: SkippedBackend[] = [];
  for (const c of candidates) {
    let adapter: string | undefined;
    let reason: string | null;
    if (c.backend === 'cpu' && cpuError != null) {
      reason = `failed to load: ${firstLine(cpuError)}`;
    } else if (c.backend === 'webgpu') {
      const pre = await webgpuPrecheck();
      if ('reason' in pre) reason = pre.reason;
      else {
        adapter = pre.adapter;
        reason = await tryCandidate(c, opts);
      }
    } else {
      reason = await tryCandidate(c, opts);
    }
    if (reason != null) {
      skipped.push({ backend: c.backend, package: c.pkg, reason });
      continue;
    }
    const bridged = c.backend !== 'cpu' && tf.findBackend('cpu') != null ? bridgeMissingKernels(c.backend, 'cpu') : [];
    const choice: BackendChoice = { name: tf.getBackend(), via: c.pkg, skipped, bridgedKernels: bridged };
    if (adapter != null) choice.adapter = adapter;
    return choice;
  }
  const tried = skipped.map((s) => `[${s.backend} via ${s.package}: ${s.reason}]`).join(' ');
  if (prefer != null) {
    throw new SaliencyError('BACKEND_UNAVAILABLE',
      `The '${prefer}' backend cannot be started here: ${tried}. Call initBackend() without 'prefer' to use the best available one.`);
  }
  throw new SaliencyError('BACKEND_UNAVAILABLE',
    `No tfjs backend could be started: ${tried}. Install @tensorflow/tfjs-backend-cpu at least.`);
}
