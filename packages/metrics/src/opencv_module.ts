/*
 * Imported dynamically by opencv.ts, never directly. The OpenCV.js module object is a thenable
 * that resolves to itself, so awaiting `import('@techstark/opencv-js')` loops forever wherever the
 * namespace exposes the module's keys (vitest, bundlers' CommonJS interop). Importing it
 * statically HERE and exporting it inside a plain object makes the dynamic import of THIS module
 * safe to await.
 */
import * as ns from '@techstark/opencv-js';

/** The OpenCV.js module object (possibly still initialising), wrapped so that it is never awaited. */
export const openCvHolder: { module: unknown } = { module: (ns as unknown as { default?: unknown }).default ?? ns };
