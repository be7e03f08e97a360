/*
 * Lazy loader of OpenCV's wasm build (@techstark/opencv-js, 10 MB of JS): imported on first use
 * only, so importing @saliency/metrics stays cheap. Only the few members the metrics use are
 * typed here.
 */
import { SaliencyError } from '@saliency/core/base';

/** An OpenCV matrix (the members the metrics use). Free it with `delete()`. */
export interface CvMat {
  /** The pixel bytes of an 8-bit matrix, row-major, channels interleaved (a view into the wasm heap). */
  readonly data: Uint8Array;
  /** Frees the matrix's wasm memory. */
  delete(): void;
}

/** An OpenCV rectangle. */
export interface CvRect {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** The part of the OpenCV.js module that the metrics use. */
export interface OpenCv {
  /** `new cv.Mat()`: an empty matrix. */
  Mat: new () => CvMat;
  /** `new cv.Rect(x, y, width, height)`. */
  Rect: new (x: number, y: number, width: number, height: number) => CvRect;
  /** A matrix of `rows × cols` of `type` filled from `data`. */
  matFromArray(rows: number, cols: number, type: number, data: ArrayLike<number>): CvMat;
  /** `cv::grabCut`. */
  grabCut(img: CvMat, mask: CvMat, rect: CvRect, bgdModel: CvMat, fgdModel: CvMat, iterCount: number, mode: number): void;
  /** 8-bit, 1 channel. */
  readonly CV_8UC1: number;
  /** 8-bit, 3 channels. */
  readonly CV_8UC3: number;
  /** GrabCut label: certainly background (0). */
  readonly GC_BGD: number;
  /** GrabCut label: certainly foreground (1). */
  readonly GC_FGD: number;
  /** GrabCut label: probably background (2). */
  readonly GC_PR_BGD: number;
  /** GrabCut label: probably foreground (3). */
  readonly GC_PR_FGD: number;
  /** GrabCut mode: initialise the colour models from the mask. */
  readonly GC_INIT_WITH_MASK: number;
  /** GrabCut mode: continue from the given models, re-fitting them each round. */
  readonly GC_EVAL: number;
  /** GrabCut mode: cut with the given models, unchanged. */
  readonly GC_EVAL_FREEZE_MODEL: number;
}

interface EmscriptenModule {
  Mat?: unknown;
  then?: (cb: () => void) => unknown;
}

interface ProcessLike {
  listeners(event: string): unknown[];
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
}

let loading: Promise<{ cv: OpenCv }> | null = null;

/**
 * Emscripten's Node glue installs `uncaughtException` / `unhandledRejection`
 * handlers (the latter aborts the OpenCV runtime on ANY unhandled rejection of
 * the application); remove whatever the import added.
 */
function restoreProcessHandlers(before: Map<string, unknown[]>): void {
  const proc = (globalThis as { process?: ProcessLike }).process;
  if (proc == null || typeof proc.listeners !== 'function') return;
  for (const [event, old] of before) {
    for (const l of proc.listeners(event)) {
      if (!old.includes(l)) proc.removeListener(event, l as (...args: unknown[]) => void);
    }
  }
}

async function load(): Promise<{ cv: OpenCv }> {
  const proc = (globalThis as { process?: ProcessLike }).process;
  const events = ['uncaughtException', 'unhandledRejection'];
  const before = new Map<string, unknown[]>();
  if (proc != null && typeof proc.listeners === 'function') for (const e of events) before.set(e, [...proc.listeners(e)]);
  let mod: EmscriptenModule;
  try {
    const { openCvHolder } = await import('./opencv_module.js');
    mod = openCvHolder.module as EmscriptenModule;
    // The module is a thenable that resolves to itself: never `await` it or return it from an
    // async function (that recurses forever). Its own `then` calls back once the runtime is up.
    if (typeof mod.Mat !== 'function') {
      await new Promise<void>((resolve) => {
        if (typeof mod.then === 'function') mod.then(() => resolve());
        else resolve();
      });
    }
  } catch (e) {
    throw new SaliencyError('BACKEND_UNAVAILABLE', `OpenCV.js (@techstark/opencv-js) could not be loaded: ${(e as Error)?.message ?? String(e)}. Install it next to @saliency/metrics.`);
  } finally {
    restoreProcessHandlers(before);
  }
  if (typeof mod.Mat !== 'function') {
    throw new SaliencyError('BACKEND_UNAVAILABLE', 'OpenCV.js loaded but did not initialise (no cv.Mat).');
  }
  return { cv: mod as unknown as OpenCv };
}

/**
 * Loads OpenCV.js once (later calls share the same promise) and returns it
 * wrapped in an object: the module itself is a thenable and must not be
 * awaited directly.
 *
 * @throws SaliencyError `BACKEND_UNAVAILABLE` when the package cannot be loaded.
 *
 * @example
 * ```ts
 * const { cv } = await loadOpenCv();
 * const m = new cv.Mat(); m.delete();
 * ```
 */
export function loadOpenCv(): Promise<{ cv: OpenCv }> {
  loading ??= load().catch((e: unknown) => {
    loading = null;
    throw e;
  });
  return loading;
}
