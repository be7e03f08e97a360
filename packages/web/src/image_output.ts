import * as tf from '@tensorflow/tfjs-core';
import { colormapTable, SaliencyError, type ColormapName } from '@saliency/core/base';
import { context2d, scratchCanvas, type AnyCanvas } from './canvas.js';
import { readPixels, type ImageSource } from './image_input.js';

/** A saliency map read back to JavaScript: `width × height` values in [0, 1], row-major. */
export interface SaliencyMapData {
  /** The values, row-major. */
  data: Float32Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/**
 * A map the drawing functions accept: a `[H, W]` tensor, a `[1, H, W]` tensor
 * (the first map of a method's output), or {@link SaliencyMapData}. Tensors are
 * read once and not disposed (the caller owns them).
 */
export type MapInput = tf.Tensor2D | tf.Tensor3D | SaliencyMapData;

/** Options of {@link mapToImageData}. */
export interface ColorizeOptions {
  /** Colour map: `'jet'` (default), `'viridis'` or `'turbo'` (the tables of `@saliency/core`'s `colorize`). */
  colormap?: ColormapName;
}

/** Options of {@link overlayImageData} and {@link drawOverlay}. */
export interface OverlayImageOptions extends ColorizeOptions {
  /** Opacity of the colour layer in [0, 1]: `pixel = image·(1 − opacity) + colour·opacity`. Default 0.5. */
  opacity?: number;
}

/**
 * Reads a map tensor back to JavaScript (one asynchronous read). A `[N, H, W]`
 * tensor gives its first map. The tensor is not disposed.
 *
 * @param map - `[H, W]` or `[N, H, W]`, values in [0, 1].
 * @returns the values with their size.
 * @throws SaliencyError `BAD_RANK` for another rank, `IMAGE_TOO_SMALL` for an empty map.
 *
 * @example
 * ```ts
 * const maps = await gradCam().explain(classifier, x, 'top');
 * const first = await readMap(maps);
 * maps.dispose();
 * ```
 */
export async function readMap(map: tf.Tensor2D | tf.Tensor3D): Promise<SaliencyMapData> {
  if (!(map instanceof tf.Tensor) || (map.rank !== 2 && map.rank !== 3)) {
    const shape = map instanceof tf.Tensor ? `rank ${map.rank} [${map.shape.join(', ')}]` : String(map);
    throw new SaliencyError('BAD_RANK', `A map must be a [H, W] or [N, H, W] tensor; got ${shape}.`);
  }
  const shape = map.shape as number[];
  const [height, width] = (map.rank === 2 ? [shape[0], shape[1]] : [shape[1], shape[2]]) as [number, number];
  if (!(height >= 1 && width >= 1) || (map.rank === 3 && map.shape[0] < 1)) {
    throw new SaliencyError('IMAGE_TOO_SMALL', `The map is empty: shape [${map.shape.join(', ')}].`);
  }
  const values = await map.data();
  const n = width * height;
  const data = values instanceof Float32Array && values.length === n ? values : Float32Array.from(values.subarray(0, n));
  return { data, width, height };
}

async function mapData(map: MapInput): Promise<SaliencyMapData> {
  if (map instanceof tf.Tensor) return readMap(map);
  const ok = map != null && Number.isInteger(map.width) && Number.isInteger(map.height) && map.width >= 1
    && map.height >= 1 && map.data != null && map.data.length === map.width * map.height;
  if (!ok) {
    throw new SaliencyError('BAD_OPTION',
      'A map must be a [H, W] / [N, H, W] tensor or {data, width, height} with width·height values.');
  }
  return map;
}

/**
 * Bilinear resize of a map, the same arithmetic as `tf.image.resizeBilinear`
 * with half-pixel centres (what `@saliency/core` uses), in float32.
 */
function resizeMap(m: SaliencyMapData, width: number, height: number): SaliencyMapData {
  if (m.width === width && m.height === height) return m;
  const out = new Float32Array(width * height);
  const sy = m.height / height;
  const sx = m.width / width;
  const f = Math.fround;
  for (let y = 0; y < height; y++) {
    const fy = f(f(sy * (y + 0.5)) - 0.5);
    const y0 = Math.max(0, Math.floor(fy));
    const y1 = Math.min(m.height - 1, Math.ceil(fy));
    const ly = f(fy - y0);
    for (let x = 0; x < width; x++) {
      const fx = f(f(sx * (x + 0.5)) - 0.5);
      const x0 = Math.max(0, Math.floor(fx));
      const x1 = Math.min(m.width - 1, Math.ceil(fx));
      const lx = f(fx - x0);
      const tl = m.data[y0 * m.width + x0] as number;
      const tr = m.data[y0 * m.width + x1] as number;
      const bl = m.data[y1 * m.width + x0] as number;
      const br = m.data[y1 * m.width + x1] as number;
      const top = f(tl + f(f(tr - tl) * lx));
      const bottom = f(bl + f(f(br - bl) * lx));
      out[y * width + x] = f(top + f(f(bottom - top) * ly));
    }
  }
  return { data: out, width, height };
}

/** Index into a 256-entry colour table, as `colorize`: `min(floor(clip(v, 0, 1) · 256), 255)`. */
function lutIndex(v: number): number {
  const c = v > 0 ? (v < 1 ? v : 1) : 0; // NaN → 0
  return Math.min(Math.floor(Math.fround(c * 256)), 255);
}

function checkOpacity(opacity: number): void {
  if (typeof opacity !== 'number' || !(opacity >= 0 && opacity <= 1)) {
    throw new SaliencyError('BAD_OPTION', `opacity must be a number in [0, 1]; got ${String(opacity)}.`);
  }
}

function newImageData(data: Uint8ClampedArray, width: number, height: number): ImageData {
  if (typeof ImageData === 'undefined') {
    throw new SaliencyError('BACKEND_UNAVAILABLE', 'ImageData is not defined here: @saliency/web\'s image output needs a browser page or worker.');
  }
  return new ImageData(data as Uint8ClampedArray<ArrayBuffer>, width, height);
}

/**
 * A saliency map as an opaque colour image: each value is coloured with the
 * 256-entry table of `colormap` exactly as `colorize` of `@saliency/core` does
 * (`index = min(floor(clip(v, 0, 1) · 256), 255)`), at the map's own size.
 *
 * @param map - see {@link MapInput}.
 * @param opts - the colour map.
 * @returns RGBA pixels, alpha 255.
 * @throws SaliencyError `BAD_RANK`/`BAD_OPTION` for a bad map, `BAD_OPTION` for an unknown colour map.
 *
 * @example
 * ```ts
 * ctx.putImageData(await mapToImageData(map, { colormap: 'viridis' }), 0, 0);
 * ```
 */
export async function mapToImageData(map: MapInput, opts: ColorizeOptions = {}): Promise<ImageData> {
  const lut = colormapTable(opts.colormap ?? 'jet');
  const m = await mapData(map);
  const out = new Uint8ClampedArray(m.width * m.height * 4);
  for (let i = 0; i < m.width * m.height; i++) {
    const k = lutIndex(m.data[i] as number) * 3;
    out[4 * i] = (lut[k] as number) * 255;
    out[4 * i + 1] = (lut[k + 1] as number) * 255;
    out[4 * i + 2] = (lut[k + 2] as number) * 255;
    out[4 * i + 3] = 255;
  }
  return newImageData(out, m.width, m.height);
}

/**
 * A saliency map drawn over an image: `image·(1 − opacity) + colour·opacity`
 * per RGB channel (the formula of `overlay` in `@saliency/core`), at the
 * image's own size. The map is resized to the image bilinearly (half-pixel
 * centres, like `@saliency/core`) before it is coloured; the image's alpha is kept.
 *
 * @param image - any {@link ImageSource} (its pixels are read with {@link readPixels}).
 * @param map - see {@link MapInput}; any size.
 * @param opts - colour map (default `'jet'`) and opacity (default 0.5).
 * @returns the blended RGBA pixels.
 * @throws SaliencyError as {@link readPixels} and {@link mapToImageData}; `BAD_OPTION` for an opacity outside [0, 1].
 *
 * @example
 * ```ts
 * const shown = await overlayImageData(file, map, { colormap: 'turbo', opacity: 0.4 });
 * ```
 */
export async function overlayImageData(image: ImageSource, map: MapInput, opts: OverlayImageOptions = {}): Promise<ImageData> {
  const opacity = opts.opacity ?? 0.5;
  checkOpacity(opacity);
  const lut = colormapTable(opts.colormap ?? 'jet');
  const m = await mapData(map);
  const pixels = await readPixels(image);
  const { width, height } = pixels;
  const r = resizeMap(m, width, height);
  const src = pixels.data;
  const out = new Uint8ClampedArray(width * height * 4);
  const keep = 1 - opacity;
  for (let i = 0; i < width * height; i++) {
    const k = lutIndex(r.data[i] as number) * 3;
    for (let ch = 0; ch < 3; ch++) {
      out[4 * i + ch] = (src[4 * i + ch] as number) * keep + (lut[k + ch] as number) * 255 * opacity;
    }
    out[4 * i + 3] = src[4 * i + 3] as number;
  }
  return newImageData(out, width, height);
}

/**
 * Draws a saliency map over an image on a canvas: the canvas is resized to
 * the image and filled with {@link overlayImageData}'s pixels.
 *
 * @param canvas - an `HTMLCanvasElement` or `OffscreenCanvas` (2-D; it is resized).
 * @param image - any {@link ImageSource}.
 * @param map - see {@link MapInput}.
 * @param opts - colour map and opacity.
 * @returns the pixels drawn.
 * @throws SaliencyError as {@link overlayImageData}; `BAD_OPTION` when the canvas already has a WebGL/WebGPU context.
 *
 * @example
 * ```ts
 * const map = await explain(gradCam(), classifier, await toImageLike(file));
 * await drawOverlay(document.querySelector('canvas')!, file, map, { opacity: 0.5 });
 * map.dispose();
 * ```
 */
export async function drawOverlay(canvas: AnyCanvas, image: ImageSource, map: MapInput, opts: OverlayImageOptions = {}): Promise<ImageData> {
  const pixels = await overlayImageData(image, map, opts);
  const ctx = context2d(canvas);
  canvas.width = pixels.width;
  canvas.height = pixels.height;
  ctx.putImageData(pixels, 0, 0);
  return pixels;
}

/**
 * Encodes pixels or a canvas as a PNG `Blob` (lossless: decoding it gives the
 * same RGBA bytes back for opaque pixels).
 *
 * @param image - `ImageData` (drawn on a scratch canvas first), an `HTMLCanvasElement` or an `OffscreenCanvas`.
 * @returns a `Blob` of type `image/png`.
 * @throws SaliencyError `BAD_OPTION` when the browser cannot encode (e.g. a tainted canvas).
 *
 * @example
 * ```ts
 * const png = await toPngBlob(await overlayImageData(file, map));
 * link.href = URL.createObjectURL(png);
 * ```
 */
export async function toPngBlob(image: ImageData | AnyCanvas): Promise<Blob> {
  let canvas: AnyCanvas;
  if (typeof ImageData !== 'undefined' && image instanceof ImageData) {
    const scratch = scratchCanvas(image.width, image.height);
    scratch.ctx.putImageData(image, 0, 0);
    canvas = scratch.canvas;
  } else {
    canvas = image as AnyCanvas;
  }
  try {
    if (typeof OffscreenCanvas !== 'undefined' && canvas instanceof OffscreenCanvas) {
      return await canvas.convertToBlob({ type: 'image/png' });
    }
    const element = canvas as HTMLCanvasElement;
    return await new Promise<Blob>((resolve, reject) => {
      element.toBlob((b) => (b != null ? resolve(b) : reject(new Error('toBlob gave no blob'))), 'image/png');
    });
  } catch (e) {
    throw new SaliencyError('BAD_OPTION',
      `Could not encode the image as PNG: ${e instanceof Error ? e.message : String(e)}. A canvas with cross-origin pixels cannot be exported.`);
  }
}
