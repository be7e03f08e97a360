import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { datasetError, type DatasetOptions, type DatasetReadResult } from './dataset.js';
import { labelledItems, type AnnotatedImage } from './labelled_items.js';

const parser = new XMLParser({ isArray: (name) => name === 'object', parseTagValue: false, trimValues: true });

function integer(v: unknown, what: string): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new Error(`${what} is not a number (${JSON.stringify(v)})`);
  return n;
}

/** One VOC annotation XML as an {@link AnnotatedImage}; throws a plain Error saying what is wrong. */
export function parseVocAnnotation(xml: string, id: string, imageDir: string): AnnotatedImage {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const doc = parser.parse(xml) as { annotation?: Record<string, unknown> };
  const a = doc.annotation;
  if (a == null || typeof a !== 'object') throw new Error('no <annotation> element');
  const size = a.size as Record<string, unknown> | undefined;
  if (size == null || typeof size !== 'object') throw new Error('no <size> element');
  const width = integer(size.width, '<size><width>');
  const height = integer(size.height, '<size><height>');
  if (width < 1 || height < 1) throw new Error(`image size ${width}×${height} is empty`);
  const filename = typeof a.filename === 'string' && a.filename !== '' ? basename(a.filename) : `${id}.jpg`;
  const objects = ((a.object ?? []) as Record<string, unknown>[]).map((o, k) => {
    const name = typeof o.name === 'string' ? o.name.trim() : '';
    if (name === '') throw new Error(`object ${k} has no <name>`);
    const b = o.bndbox as Record<string, unknown> | undefined;
    if (b == null || typeof b !== 'object') throw new Error(`object ${k} (${name}) has no <bndbox>`);
    // VOC boxes are 1-based and inclusive: pixels xmin … xmax.
    const xmin = integer(b.xmin, `object ${k} xmin`), ymin = integer(b.ymin, `object ${k} ymin`);
    const xmax = integer(b.xmax, `object ${k} xmax`), ymax = integer(b.ymax, `object ${k} ymax`);
    if (xmax < xmin || ymax < ymin) throw new Error(`object ${k} (${name}) has an empty box`);
    const difficult = o.difficult == null ? false : integer(o.difficult, `object ${k} difficult`) !== 0;
    return { className: name, box: { x: xmin - 1, y: ymin - 1, width: xmax - xmin + 1, height: ymax - ymin + 1 }, difficult };
  });
  return { id, imagePath: join(imageDir, filename), width, height, objects };
}

/**
 * Reads a Pascal VOC layout: `Annotations/<id>.xml` (`filename`, `size`, `object/name`,
 * `object/bndbox` 1-based inclusive, `object/difficult`), images in `JPEGImages/`, and the ids of
 * `ImageSets/Main/<split>.txt` when `opts.split` is given (default: every annotation, sorted).
 * An annotation that cannot be parsed, an image that is missing and a class the model lacks are
 * skipped and counted; a missing folder or split file is an error.
 *
 * @param dir - the dataset's root folder (the one holding `Annotations/`).
 * @param opts - the model's labels, the class map, the split.
 * @returns the items (one per image and class present) and the skipped entries.
 * @throws SaliencyError `BAD_DATASET` when `Annotations/` or the split file is missing.
 *
 * @example
 * ```ts
 * const { items, skipped } = await readVocDataset('VOCdevkit/VOC2007', { labels, split: 'test' });
 * ```
 */
export async function readVocDataset(dir: string, opts: DatasetOptions): Promise<DatasetReadResult> {
  const root = resolve(dir);
  const annotations = join(root, 'Annotations');
  if (!existsSync(annotations) || !statSync(annotations).isDirectory()) {
    throw datasetError(`${root} is not a Pascal VOC folder: it has no Annotations/ (expected Annotations/*.xml and JPEGImages/).`);
  }
  let ids: string[];
  if (opts.split != null) {
    const list = join(root, 'ImageSets', 'Main', `${opts.split}.txt`);
    if (!existsSync(list)) throw datasetError(`No split '${opts.split}': ${list} does not exist.`);
    ids = (await readFile(list, 'utf8')).split(/\r?\n/).map((l) => l.trim().split(/\s+/)[0]).filter((l) => l != null && l !== '');
  } else {
    ids = (await readdir(annotations)).filter((f) => f.toLowerCase().endsWith('.xml')).map((f) => f.slice(0, -4)).sort();
  }
  const result: DatasetReadResult = { items: [], skipped: [] };
  const images: AnnotatedImage[] = [];
  for (const id of ids) {
    const file = join(annotations, `${id}.xml`);
    let xml: string;
    try {
      xml = await readFile(file, 'utf8');
    } catch {
      result.skipped.push({ id, reason: `annotation ${file} is missing` });
      continue;
    }
    let image: AnnotatedImage;
    try {
      image = parseVocAnnotation(xml, id, join(root, 'JPEGImages'));
    } catch (e) {
      result.skipped.push({ id, reason: `${file}: ${(e as Error).message}` });
      continue;
    }
    if (!existsSync(image.imagePath)) {
      result.skipped.push({ id, reason: `image ${image.imagePath} is missing` });
      continue;
    }
    images.push(image);
  }
  return labelledItems(images, opts, result);
}
