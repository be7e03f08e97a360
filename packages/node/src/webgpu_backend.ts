import * as tf from '@tensorflow/tfjs-core';
import { bridgeMissingKernels, missingKernels } from '@saliency/core/base';

/** The npm package that gives Node a `navigator.gpu` (Dawn, prebuilt inside its tarball). */
export const WEBGPU_NODE_PACKAGE = 'webgpu';
/** The tfjs backend package that runs on it. */
export const WEBGPU_BACKEND_PACKAGE = '@tensorflow/tfjs-backend-webgpu';
/**
 * The Debian command that installs a Vulkan driver for any machine: Mesa's lavapipe
 * (a CPU device). Dawn 0.6.2 rejects bookworm's own Mesa 22.3 lavapipe (it lacks
 * `shaderUniform*ArrayDynamicIndexing`); bookworm-backports' Mesa 25 works.
 */
export const LAVAPIPE_INSTALL_COMMAND =
  "echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list"
  + ' && apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers';

/** The WebGPU adapter Dawn picked (`GPUAdapter.info`), and whether it is a CPU device. */
export interface WebGpuAdapter {
  /** `vendor/architecture`, e.g. `'nvidia/hopper'` or `'mesa/software'` (lavapipe). */
  name: string;
  /** `GPUAdapterInfo.vendor`, e.g. `'nvidia'`, `'mesa'`. */
  vendor: string;
  /** `GPUAdapterInfo.architecture`, e.g. `'software'` for lavapipe. */
  architecture: string;
  /** `GPUAdapterInfo.device`, e.g. `'llvmpipe-llvm-15-0-6-256-bits-'`. */
  device: string;
  /** `GPUAdapterInfo.description`, e.g. `'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)'`. */
  description: string;
  /**
   * True for a software rasteriser running on the CPU (lavapipe/llvmpipe, SwiftShader, or
   * any adapter Dawn flags as a fallback adapter): slower than tfjs's wasm backend, so
   * `initBackend()` only uses it when asked (`prefer: 'webgpu'`).
   */
  isCpu: boolean;
}

/** What {@link loadWebGpuBackend} did: `reason` is null when the `webgpu` backend is now active. */
export interface WebGpuLoadResult {
  /** Why the backend is not used, or null when `tf.getBackend()` is now `'webgpu'`. */
  reason: string | null;
  /** The adapter, when Dawn found one. */
  adapter?: WebGpuAdapter;
  /** Gradient kernels registered for webgpu from its own kernels (none in tfjs 4.22). */
  bridgedKernels: string[];
}

/** Options of {@link loadWebGpuBackend}. */
export interface WebGpuLoadOptions {
  /** Use a CPU (software) adapter too; otherwise such an adapter is reported and skipped. */
  allowCpuAdapter: boolean;
  /** Imports an optional package by a run-time specifier (the chooser's own importer). */
  importOptional: (specifier: string) => Promise<unknown>;
  /** Turns an import error of `pkg` into a skip reason (`not installed (…)` / `failed to load: …`). */
  importFailure: (e: unknown, pkg: string) => string;
}

interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  isFallbackAdapter?: boolean;
  requestAdapterInfo?: () => Promise<GpuAdapterInfoLike>;
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}
interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n').find((l) => l.trim() !== '') ?? msg).trim();
}

/** Software Vulkan/WebGPU devices, by the names they report. */
const SOFTWARE_DEVICE = /llvmpipe|lavapipe|swiftshader|software|softpipe/i;

/**
 * Describes an adapter from its `GPUAdapterInfo` and says whether it runs on the CPU.
 *
 * @param info - `GPUAdapter.info` (or what `requestAdapterInfo()` resolved to).
 * @param isFallbackAdapter - `GPUAdapter.isFallbackAdapter`, where the implementation has it.
 * @returns the adapter's name, fields and `isCpu`.
 *
 * @example
 * ```ts
 * describeWebGpuAdapter({ vendor: 'mesa', architecture: 'software', device: 'llvmpipe' }).isCpu; // true
 * ```
 */
export function describeWebGpuAdapter(info: GpuAdapterInfoLike, isFallbackAdapter = false): WebGpuAdapter {
  const vendor = info.vendor ?? '';
  const architecture = info.architecture ?? '';
  const device = info.device ?? '';
  const description = info.description ?? '';
  const isCpu = isFallbackAdapter || info.isFallbackAdapter === true
    || SOFTWARE_DEVICE.test(`${architecture} ${device} ${description}`);
  const name = `${vendor || 'unknown vendor'}/${architecture || device || description || 'unknown architecture'}`;
  return { name, vendor, architecture, device, description, isCpu };
}

/** The adapter of the first successful load: the backend keeps its device for the process. */
let active: WebGpuAdapter | undefined;

/**
 * Sets `navigator.gpu` and the WebGPU constants (`GPUBufferUsage`, …) on `globalThis`
 * from Dawn: tfjs-backend-webgpu registers its backend at import only when
 * `navigator.gpu` exists. Existing globals are left alone.
 */
function installGlobals(gpu: GpuLike, globals: Record<string, unknown>): void {
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(globals)) if (!(k in g)) g[k] = v;
  const nav = g.navigator as Record<string, unknown> | undefined;
  if (nav == null) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else if (nav.gpu == null) {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  }
}

async function adapterOf(gpu: GpuLike): Promise<GpuAdapterLike | null> {
  return gpu.requestAdapter({ powerPreference: 'high-performance' });
}

/**
 * Makes tfjs's WebGPU backend active in Node over Dawn (the `webgpu` npm package):
 * imports `webgpu`, asks Dawn for a high-performance adapter, reports it, and unless it
 * is a CPU device that was not asked for, sets `navigator.gpu`, imports
 * `@tensorflow/tfjs-backend-webgpu` and calls `tf.setBackend('webgpu')`.
 *
 * Dawn finds the GPU through the Vulkan loader: NVIDIA's, AMD's or Intel's Vulkan driver,
 * or Mesa's lavapipe on the CPU (see {@link LAVAPIPE_INSTALL_COMMAND});
 * `VK_ICD_FILENAMES` picks one driver. Used by `initBackend()`; it never throws.
 *
 * @param opts - whether a CPU adapter is acceptable, and the chooser's import helpers.
 * @returns null `reason` when the backend is active, else why not; the adapter when one was found.
 */
export async function loadWebGpuBackend(opts: WebGpuLoadOptions): Promise<WebGpuLoadResult> {
  if (active != null && tf.findBackendFactory('webgpu') != null) {
    if (active.isCpu && !opts.allowCpuAdapter) return { reason: cpuReason(active), adapter: active, bridgedKernels: [] };
    try {
      if (await tf.setBackend('webgpu')) return { reason: null, adapter: active, bridgedKernels: [] };
    } catch (e) {
      return { reason: `tf.setBackend('webgpu') failed: ${firstLine(e)}`, adapter: active, bridgedKernels: [] };
    }
  }
  let dawn: DawnModule;
  try {
    dawn = (await opts.importOptional(WEBGPU_NODE_PACKAGE)) as DawnModule;
  } catch (e) {
    return { reason: opts.importFailure(e, WEBGPU_NODE_PACKAGE), bridgedKernels: [] };
  }
  const existing = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  let gpu: GpuLike;
  let raw: GpuAdapterLike | null;
  try {
    gpu = existing ?? dawn.create([]);
    raw = await adapterOf(gpu);
  } catch (e) {
    return { reason: `Dawn (${WEBGPU_NODE_PACKAGE}) failed: ${firstLine(e)}`, bridgedKernels: [] };
  }
  if (raw == null) {
    return {
      reason: 'no WebGPU adapter: Dawn found no usable Vulkan driver (install your GPU\'s Vulkan driver, '
        + `or Mesa's lavapipe: ${LAVAPIPE_INSTALL_COMMAND}; VK_ICD_FILENAMES selects one)`,
      bridgedKernels: [],
    };
  }
  const info = raw.info ?? (typeof raw.requestAdapterInfo === 'function' ? await raw.requestAdapterInfo() : {});
  const adapter = describeWebGpuAdapter(info, raw.isFallbackAdapter === true);
  if (adapter.isCpu && !opts.allowCpuAdapter) return { reason: cpuReason(adapter), adapter, bridgedKernels: [] };

  installGlobals(gpu, dawn.globals ?? {});
  try {
    await opts.importOptional(WEBGPU_BACKEND_PACKAGE);
  } catch (e) {
    return { reason: opts.importFailure(e, WEBGPU_BACKEND_PACKAGE), adapter, bridgedKernels: [] };
  }
  if (tf.findBackendFactory('webgpu') == null) {
    return {
      reason: `${WEBGPU_BACKEND_PACKAGE} loaded, but no 'webgpu' backend is registered with this @tensorflow/tfjs-core `
        + `(${tf.version_core}): it was imported before navigator.gpu was set, or it uses another copy of tfjs-core`,
      adapter, bridgedKernels: [],
    };
  }
  let ok = false;
  let why = '';
  try {
    ok = await tf.setBackend('webgpu');
  } catch (e) {
    why = `: ${firstLine(e)}`;
  }
  if (!ok || tf.getBackend() !== 'webgpu') {
    return { reason: `loaded, but tf.setBackend('webgpu') failed${why}`, adapter, bridgedKernels: [] };
  }
  active = adapter;
  // tfjs-backend-webgpu 4.22 has every gradient kernel the methods use; bridge from its
  // own kernels only (a cpu fallback would read back synchronously, which WebGPU in Node cannot).
  const bridged = bridgeMissingKernels('webgpu', 'webgpu');
  const missing = missingKernels('webgpu');
  if (missing.length > 0) {
    return { reason: `the webgpu backend lacks gradient kernels: ${missing.join(', ')}`, adapter, bridgedKernels: bridged };
  }
  return { reason: null, adapter, bridgedKernels: bridged };
}

function cpuReason(a: WebGpuAdapter): string {
  return `the WebGPU adapter is '${a.name}', a CPU device (slower than wasm); pass prefer: 'webgpu' to use it anyway`;
}
