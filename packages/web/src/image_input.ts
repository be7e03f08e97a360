import * as tf from '@tensorflow/tfjs-core';
import { imageToTensor, SaliencyError, type ImageLike } from '@saliency/core/base';
import { scratchCanvas } from './canvas.js';

/**
 * Everything {@link readPixels} accepts: a loaded `<img>`, a canvas (2-D,
 * WebGL or offscreen), an `ImageBitmap`, `ImageData`, a `<video>` frame, or an
 * encoded image as a `File`/`Blob` (PNG, JPEG, WebP, GIF, BMP — whatever the
 * browser decodes).
 */
export type ImageSource =
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | ImageBitmap
  | ImageData
  | HTMLVideoElement
  | Blob;

/** Options of {@link toTensor}. */
export interface ToTensorOptions {
  /** Pixel range of the result, e.g. a classifier's `inputRange`. Default `[0, 255]`. */
  range?: readonly [number, number];
  /** Channels of the result: 3 (RGB, default) or 1 (luma). Alpha is dropped. */
  channels?: 1 | 3;
}

const has = (name: string): boolean => typeof (globalThis as Record<string, unknown>)[name] === 'function';
const isA = <T>(x: unknown, name: string): x is T =>
  has(name) && x instanceof ((globalThis as Record<string, unknown>)[name] as abstract new (...a: never[]) => T);

function sizeOf(source: Exclude<ImageSource, Blob | ImageData>): [number, number] {
  if (isA<HTMLImageElement>(source, 'HTMLImageElement')) return [source.naturalWidth, source.naturalHeight];
  if (isA<HTMLVideoElement>(source, 'HTMLVideoElement')) return [source.videoWidth, source.videoHeight];
  return [source.width, source.height];
}

async function decodeBlob(blob: Blob): Promise<ImageBitmap> {
  try {
    // No colour-space conversion and no premultiplication: the file's own pixel values.
    return await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    const type = blob.type !== '' ? blob.type : 'unknown type';
    const name = (blob as Partial<File>).name;
    throw new SaliencyError('BAD_OPTION',
      `Could not decode ${name != null ? `'${name}'` : 'the blob'} (${type}, ${blob.size} bytes) as an image: `
      + `${e instanceof Error ? e.message : String(e)}. Give a PNG, JPEG, WebP, GIF or BMP file.`);
  }
}

/**
 * Reads the RGBA pixels of any {@link ImageSource}, at its own (natural) size.
 * `ImageData` is returned as is; everything else is drawn once on a scratch
 * canvas. Encoded files are decoded without colour-space conversion or alpha
 * premultiplication, so a PNG gives back exactly its stored values.
 *
 * @param source - the image.
 * @returns its pixels, `width × height × 4` bytes.
 * @throws SaliencyError `IMAGE_TOO_SMALL` for an image with no pixels (an `<img>`
 *   that failed to load, a video with no frame yet); `BAD_OPTION` for a file
 *   the browser cannot decode, a cross-origin image without CORS, or something
 *   that is not an image source.
 *
 * @example
 * ```ts
 * input.onchange = async () => { const pixels = await readPixels(input.files![0]); };
 * ```
 */
export async function readPixels(source: ImageSource): Promise<ImageData> {
  if (isA<ImageData>(source, 'ImageData')) return source;
  let drawable: Exclude<ImageSource, Blob | ImageData>;
  let owned: ImageBitmap | null = null;
  if (isA<Blob>(source, 'Blob')) {
    owned = await decodeBlob(source);
    drawable = owned;
  } else if (
    isA<HTMLImageElement>(source, 'HTMLImageElement') || isA<HTMLCanvasElement>(source, 'HTMLCanvasElement')
    || isA<OffscreenCanvas>(source, 'OffscreenCanvas') || isA<ImageBitmap>(source, 'ImageBitmap')
    || isA<HTMLVideoElement>(source, 'HTMLVideoElement')
  ) {
    drawable = source;
    if (isA<HTMLImageElement>(source, 'HTMLImageElement') && !source.complete) {
      await source.decode().catch(() => undefined);
    }
  } else {
    const what = source == null ? String(source) : (source as object).constructor?.name ?? typeof source;
    throw new SaliencyError('BAD_OPTION',
      `readPixels: cannot read pixels from ${what}; give an HTMLImageElement, HTMLCanvasElement, OffscreenCanvas, ImageBitmap, ImageData, HTMLVideoElement, File or Blob.`);
  }
  try {
    const [width, height] = sizeOf(drawable);
    if (!(width >= 1 && height >= 1)) {
      throw new SaliencyError('IMAGE_TOO_SMALL',
        `readPixels: the image is ${width}×${height} pixels; wait until an <img> has loaded (await img.decode()) or a video has a frame.`);
    }
    const { ctx } = scratchCanvas(width, height);
    ctx.drawImage(drawable, 0, 0);
    try {
      return ctx.getImageData(0, 0, width, height);
    } catch (e) {
      throw new SaliencyError('BAD_OPTION',
        `readPixels: the browser refused to read the pixels (${e instanceof Error ? e.message : String(e)}); `
        + 'a cross-origin image needs CORS: set img.crossOrigin = \'anonymous\' before its src, and serve it with Access-Control-Allow-Origin.');
    }
  } finally {
    owned?.close();
  }
}

/**
 * The pixels of any {@link ImageSource} as an `ImageLike` (`{data, width,
 * height, channels: 4}`, RGBA bytes) — what `explain()` of `@saliency/core`
 * accepts directly.
 *
 * @param source - the image.
 * @returns RGBA bytes in 0–255 at the image's own size.
 * @throws SaliencyError as {@link readPixels}.
 *
 * @example
 * ```ts
 * const map = await explain(gradCam(), classifier, await toImageLike(file));
 * ```
 */
export async function toImageLike(source: ImageSource): Promise<ImageLike> {
  const pixels = await readPixels(source);
  return { data: pixels.data, width: pixels.width, height: pixels.height, channels: 4 };
}

/**
 * The pixels of any {@link ImageSource} as a float32 `[H, W, C]` tensor in
 * `range` (0–255 bytes mapped linearly), alpha dropped. The caller disposes it.
 *
 * @param source - the image.
 * @param opts - `range` (default `[0, 255]`; pass the classifier's `inputRange`) and `channels` (3 or 1).
 * @returns `[H, W, channels]` float32 at the image's own size.
 * @throws SaliencyError as {@link readPixels}, and `BAD_OPTION` for a bad `channels`.
 *
 * @example
 * ```ts
 * const x = await toTensor(img, { range: classifier.inputRange });
 * const map = await explain(gradCam(), classifier, x);
 * tf.dispose([x, map]);
 * ```
 */
export async function toTensor(source: ImageSource, opts: ToTensorOptions = {}): Promise<tf.Tensor3D> {
  const channels = opts.channels ?? 3;
  if (channels !== 1 && channels !== 3) {
    throw new SaliencyError('BAD_OPTION', `toTensor: channels must be 1 or 3; got ${String(channels)}.`);
  }
  const range = opts.range ?? [0, 255];
  const image = await toImageLike(source);
  const batch = imageToTensor(image, range, channels);
  const out = tf.squeeze(batch, [0]) as tf.Tensor3D;
  batch.dispose();
  return out;
}
