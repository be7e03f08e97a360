/*
 * A 2-D canvas to draw on and read from: an OffscreenCanvas where the browser
 * has one (also in workers), else an HTMLCanvasElement.
 */
import { SaliencyError } from '@saliency/core/base';

/** A 2-D canvas (`OffscreenCanvas` or `HTMLCanvasElement`). */
export type AnyCanvas = OffscreenCanvas | HTMLCanvasElement;

/** The 2-D context of either kind of canvas. */
export type AnyContext2D = OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D;

/** A new `width`×`height` canvas and its 2-D context (set up for frequent reads). */
export function scratchCanvas(width: number, height: number): { canvas: AnyCanvas; ctx: AnyContext2D } {
  let canvas: AnyCanvas;
  if (typeof OffscreenCanvas !== 'undefined') {
    canvas = new OffscreenCanvas(width, height);
  } else if (typeof document !== 'undefined') {
    canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
  } else {
    throw new SaliencyError('BACKEND_UNAVAILABLE',
      'No canvas here (neither OffscreenCanvas nor document): @saliency/web\'s image functions need a browser page or worker. In Node.js use @saliency/node.');
  }
  return { canvas, ctx: context2d(canvas) };
}

/** The 2-D context of `canvas`, created with `willReadFrequently`. */
export function context2d(canvas: AnyCanvas): AnyContext2D {
  const ctx = canvas.getContext('2d', { willReadFrequently: true }) as AnyContext2D | null;
  if (ctx == null) {
    throw new SaliencyError('BAD_OPTION',
      'The canvas has no 2-D context (it already has a WebGL/WebGPU context): draw into a fresh canvas instead.');
  }
  return ctx;
}
