import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { XMLBuilder } from 'fast-xml-parser';
import type { DatasetBox } from './dataset.js';

/** An image with its annotations, to be written as a VOC or COCO dataset. */
export interface ExportImage {
  /** Image id (file stem; unique). */
  id: string;
  /** Width, pixels. */
  width: number;
  /** Height, pixels. */
  height: number;
  /** RGB interleaved, 0–255, `height × width × 3`. */
  pixels: Uint8Array;
  /** Its objects. */
  objects: ExportObject[];
}

/** An object of an {@link ExportImage}. */
export interface ExportObject {
  /** Class name as written to the dataset. */
  className: string;
  /** Whole-pixel box. */
  box: DatasetBox;
  /** VOC `difficult` / COCO `iscrowd`. */
  difficult: boolean;
}

/** A set written in both layouts. */
export interface ExportedDatasets {
  /** The Pascal VOC folder. */
  voc: ExportedDataset;
  /** The COCO file and image folder. */
  coco: ExportedDataset;
}

/** Where {@link exportVoc} and {@link exportCoco} wrote a dataset. */
export interface ExportedDataset {
  /** `voc:<dir>` or `coco:<json>,<dir>`: what `--dataset` and `readDataset` take. */
  spec: string;
  /** Number of images written. */
  images: number;
  /** Number of objects written. */
  objects: number;
}

const builder = new XMLBuilder({ format: true, indentBy: '  ' });

async function writePng(img: ExportImage, file: string): Promise<void> {
  await sharp(Buffer.from(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } })
    .png().toFile(file);
}

/**
 * Writes images as a Pascal VOC folder: `JPEGImages/<id>.png` (lossless, named in each
 * annotation's `<filename>`), `Annotations/<id>.xml` (`bndbox` 1-based and inclusive,
 * `difficult` 0/1) and `ImageSets/Main/<split>.txt`.
 *
 * @param images - the images.
 * @param dir - the dataset root (created).
 * @param split - the split file's name (default `test`).
 *
 * @example
 * ```ts
 * const { spec } = await exportVoc(images, 'out/voc'); // 'voc:/abs/out/voc'
 * ```
 */
export async function exportVoc(images: readonly ExportImage[], dir: string, split = 'test'): Promise<ExportedDataset> {
  const root = resolve(dir);
  for (const sub of ['Annotations', 'JPEGImages', join('ImageSets', 'Main')]) await mkdir(join(root, sub), { recursive: true });
  let objects = 0;
  for (const img of images) {
    await writePng(img, join(root, 'JPEGImages', `${img.id}.png`));
    const xml = builder.build({
      annotation: {
        folder: 'JPEGImages', filename: `${img.id}.png`, size: { width: img.width, height: img.height, depth: 3 }, segmented: 0,
        object: img.objects.map((o) => ({
          name: o.className, pose: 'Unspecified', truncated: 0, difficult: o.difficult ? 1 : 0,
          bndbox: { xmin: o.box.x + 1, ymin: o.box.y + 1, xmax: o.box.x + o.box.width, ymax: o.box.y + o.box.height },
        })),
      },
    }) as string;
    await writeFile(join(root, 'Annotations', `${img.id}.xml`), xml);
    objects += img.objects.length;
  }
  await writeFile(join(root, 'ImageSets', 'Main', `${split}.txt`), images.map((i) => i.id).join('\n') + '\n');
  return { spec: `voc:${root}`, images: images.length, objects };
}

/**
 * Writes images as a COCO instances file and an image folder: `<dir>/images/<id>.png` and
 * `<dir>/instances.json` (`bbox` = [x, y, w, h] in pixels, `iscrowd` = the difficult flag,
 * categories numbered from 1 in name order).
 *
 * @param images - the images.
 * @param dir - the output folder (created).
 *
 * @example
 * ```ts
 * const { spec } = await exportCoco(images, 'out/coco'); // 'coco:/abs/out/coco/instances.json,/abs/out/coco/images'
 * ```
 */
export async function exportCoco(images: readonly ExportImage[], dir: string): Promise<ExportedDataset> {
  const root = resolve(dir);
  const imageDir = join(root, 'images');
  await mkdir(imageDir, { recursive: true });
  const names = [...new Set(images.flatMap((i) => i.objects.map((o) => o.className)))].sort();
  const categories = names.map((name, k) => ({ id: k + 1, name, supercategory: 'object' }));
  const annotations: unknown[] = [];
  const entries: unknown[] = [];
  for (const [k, img] of images.entries()) {
    await writePng(img, join(imageDir, `${img.id}.png`));
    entries.push({ id: k + 1, file_name: `${img.id}.png`, width: img.width, height: img.height });
    for (const o of img.objects) {
      annotations.push({
        id: annotations.length + 1, image_id: k + 1, category_id: names.indexOf(o.className) + 1,
        bbox: [o.box.x, o.box.y, o.box.width, o.box.height], area: o.box.width * o.box.height, iscrowd: o.difficult ? 1 : 0,
      });
    }
  }
  const file = join(root, 'instances.json');
  await writeFile(file, JSON.stringify({ info: { description: 'exported by @saliency/eval' }, images: entries, annotations, categories }) + '\n');
  return { spec: `coco:${file},${imageDir}`, images: images.length, objects: annotations.length };
}
