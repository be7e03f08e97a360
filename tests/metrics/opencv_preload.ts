// Test-runner plumbing (not a mock): OpenCV.js's module object is a thenable that resolves to
// itself. Vitest's CommonJS interop (vite-node `interopedImport`) exposes the module's keys on the
// namespace it AWAITS, so importing @techstark/opencv-js inside vitest loops forever in microtasks.
// Node's own ESM loader and bundlers do not await the module object, so @saliency/metrics works
// there as it is; in vitest, load the same module instance once through `require`, wait for its
// runtime, and drop its `then` before any code imports it.
import { createRequire } from 'node:module';

interface CvModule { Mat?: unknown; then?: (cb: () => void) => unknown }

let ready: Promise<void> | null = null;

/** Loads OpenCV.js through Node's require cache and makes its module object non-thenable. Call in beforeAll. */
export function preloadOpenCv(): Promise<void> {
  ready ??= (async () => {
    const before = { exception: process.listeners('uncaughtException'), rejection: process.listeners('unhandledRejection') };
    const cv = createRequire(import.meta.url)('@techstark/opencv-js') as CvModule;
    for (const l of process.listeners('uncaughtException')) if (!before.exception.includes(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!before.rejection.includes(l)) process.removeListener('unhandledRejection', l);
    if (typeof cv.Mat !== 'function') await new Promise<void>((resolve) => { cv.then?.(() => resolve()); });
    delete cv.then;
  })();
  return ready;
}
