import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { colorize, overlay, SaliencyError, type ImageLike } from '@saliency/core/base';

/** An RGB image decoded from a file: 0–255 bytes, row-major, 3 values per pixel. */
export interface DecodedImage extends ImageLike {
  data: Uint8Array;
  channels: 3;
}

/** A rectangle in pixels (for example a face box). */
export interface Region {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width (≥ 1). */
  width: number;
  /** Height (≥ 1). */
  height: number;
}

/** Options of {@link readImage}. */
export interface ReadImageOptions {
  /** Keep only this rectangle of the image. */
  region?: Region;
  /**
   * Pad the region to a square centred on it (side = max(width, height), zeros outside the image),
   * the crop convention of the bundled face model. Default false.
   */
  square?: boolean;
}

/**
 * Cuts a rectangle out of a decoded image; with `square`, the rectangle is first grown to a
 * centred square (zeros where it leaves the image).
 *
 * @example
 * ```ts
 * const face = cropImage(image, { x: 414, y: 354, width: 177, height: 239 }, true);
 * ```
 */
export function cropImage(image: DecodedImage, r: Region, square = false): DecodedImage {
  if (![r.x, r.y, r.width, r.height].every(Number.isFinite) || r.width < 1 || r.height < 1) {
    throw new SaliencyError('IMAGE_TOO_SMALL', `A region needs finite coordinates and a size of at least 1×1; got ${JSON.stringify(r)}.`);
  }
  const side = Math.max(1, Math.round(Math.max(r.width, r.height)));
  const w = square ? side : Math.round(r.width);
  const h = square ? side : Math.round(r.height);
  const x0 = square ? Math.round(r.x + r.width / 2 - side / 2) : Math.round(r.x);
  const y0 = square ? Math.round(r.y + r.height / 2 - side / 2) : Math.round(r.y);
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = y0 + y;
    if (sy < 0 || sy >= image.height) continue;
    const sx0 = Math.max(0, x0);
    const sx1 = Math.min(image.width, x0 + w);
    if (sx1 <= sx0) continue;
    const src = (sy * image.width + sx0) * 3;
    out.set(image.data.subarray(src, src + (sx1 - sx0) * 3), (y * w + (sx0 - x0)) * 3);
  }
  return { data: out, width: w, height: h, channels: 3 };
}

/**
 * Decodes a PNG/JPEG/WebP/… file to RGB bytes (alpha dropped, EXIF rotation applied) with sharp,
 * optionally keeping only a region of it.
 *
 * @example
 * ```ts
 * const image = await readImage('group.jpg', { region: faceBox, square: true });
 * const map = await explain(gradCam(), classifier, image);
 * ```
 */
export async function readImage(path: string, opts: ReadImageOptions = {}): Promise<DecodedImage> {
  let decoded: DecodedImage;
  // Say what is wrong with the path itself rather than sharp's "unsupported image format".
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) {
    throw new SaliencyError('BAD_OPTION', st.code === 'ENOENT' ? `Cannot read image '${path}': the file does not exist.` : `Cannot read image '${path}': ${st.message}`);
  }
  if (st.isDirectory()) throw new SaliencyError('BAD_OPTION', `Cannot read image '${path}': it is a directory, not an image file.`);
  try {
    const { data, info } = await sharp(path).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    decoded = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 };
  } catch (e) {
    throw new SaliencyError('BAD_OPTION', `Cannot read image '${path}': ${(e as Error).message}`);
  }
  return opts.region != null ? cropImage(decoded, opts.region, opts.square ?? false) : decoded;
}

async function writeRaw(path: string, data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const img = sharp(Buffer.from(data.buffer, data.byteOffset, data.length), { raw: { width, height, channels } });
  await (channels === 1 ? img.toColourspace('b-w') : img).png().toFile(path);
}

async function toBytes(x: tf.Tensor): Promise<Uint8Array> {
  const bytes = tf.tidy(() => tf.cast(tf.clipByValue(tf.round(tf.mul(x, 255)), 0, 255), 'int32'));
  try {
    return Uint8Array.from(await bytes.data());
  } finally {
    bytes.dispose();
  }
}

/**
 * Writes a `[H, W]` map in [0, 1] as a PNG: grayscale by default, or coloured with a colour map.
 *
 * @example
 * ```ts
 * await writeMapPng(map, 'out/face.map.png');
 * ```
 */
export async function writeMapPng(map: tf.Tensor2D, path: string, opts: { colormap?: 'jet' | 'viridis' | 'turbo' } = {}): Promise<void> {
  if (map.rank !== 2) throw new SaliencyError('BAD_RANK', `writeMapPng takes a [H, W] map; got rank ${map.rank}.`);
  const [h, w] = map.shape;
  if (opts.colormap == null) {
    await writeRaw(path, await toBytes(map), w, h, 1);
    return;
  }
  const cm = opts.colormap;
  const rgb = tf.tidy(() => colorize(tf.expandDims(map, 0) as tf.Tensor3D, cm));
  try {
    await writeRaw(path, await toBytes(rgb), w, h, 3);
  } finally {
    rgb.dispose();
  }
}

/**
 * Writes the map blended over the image as a PNG (`alpha` default 0.5, `colormap` default jet).
 * The map is resized to the image when their sizes differ.
 *
 * @example
 * ```ts
 * await writeOverlayPng(image, map, 'out/face.overlay.png', { alpha: 0.45 });
 * ```
 */
export async function writeOverlayPng(
  image: ImageLike,
  map: tf.Tensor2D,
  path: string,
  opts: { colormap?: 'jet' | 'viridis' | 'turbo'; alpha?: number } = {},
): Promise<void> {
  const c = image.channels ?? image.data.length / (image.width * image.height);
  const blended = tf.tidy(() => {
    let img: tf.Tensor = tf.div(tf.tensor3d(Float32Array.from(image.data), [image.height, image.width, c]), image.data instanceof Float32Array ? 1 : 255);
    if (c === 4) img = tf.slice(img, [0, 0, 0], [-1, -1, 3]);
    if (c === 1) img = tf.tile(img, [1, 1, 3]);
    return overlay(img as tf.Tensor3D, tf.expandDims(map, 0) as tf.Tensor3D, { colormap: opts.colormap ?? 'jet', alpha: opts.alpha ?? 0.5 });
  });
  try {
    await writeRaw(path, await toBytes(blended), image.width, image.height, 3);
  } finally {
    blended.dispose();
  }
}

/**
 * Writes an `[H, W, C]` image tensor (C = 1 or 3) as a PNG. Values are mapped from `range`
 * (default `[0, 255]`) to bytes; with `stretch`, the image's own min–max is used instead (for
 * images such as class-model visualisations whose values sit in a small part of the range).
 *
 * @example
 * ```ts
 * await writeImagePng(await classModel(classifier, 1), 'out/happy.png', { stretch: true });
 * ```
 */
export async function writeImagePng(
  image: tf.Tensor3D,
  path: string,
  opts: { range?: readonly [number, number]; stretch?: boolean } = {},
): Promise<void> {
  if (image.rank !== 3 || (image.shape[2] !== 1 && image.shape[2] !== 3)) {
    throw new SaliencyError('BAD_RANK', `writeImagePng takes an [H, W, 1 or 3] image; got [${image.shape.join(', ')}].`);
  }
  const [lo, hi] = opts.range ?? [0, 255];
  const unit = tf.tidy(() => {
    if (opts.stretch === true) {
      const mn = tf.min(image);
      return tf.div(tf.sub(image, mn), tf.maximum(tf.sub(tf.max(image), mn), 1e-12));
    }
    return tf.div(tf.sub(image, lo), hi - lo);
  });
  try {
    await writeRaw(path, await toBytes(unit), image.shape[1], image.shape[0], image.shape[2] as 1 | 3);
  } finally {
    unit.dispose();
  }
}
