import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { datasetError, type DatasetOptions, type DatasetReadResult } from './dataset.js';
import { labelledItems, type AnnotatedImage } from './labelled_items.js';

interface CocoImage { id: number | string; file_name: string; width: number; height: number }
interface CocoAnnotation { id?: number | string; image_id: number | string; category_id: number | string; bbox: number[]; iscrowd?: number }
interface CocoCategory { id: number | string; name: string }

function arrayField<T>(doc: Record<string, unknown>, name: string, file: string): T[] {
  const v = doc[name];
  if (!Array.isArray(v)) throw datasetError(`${file} is not a COCO instances file: '${name}' is not an array.`);
  return v as T[];
}

/**
 * Reads a COCO instances file (`images` with `file_name`, `width`, `height`; `annotations` with
 * `bbox` = [x, y, w, h] in pixels and `category_id`; `categories` with `name`) and its image
 * folder. Boxes become whole-pixel boxes (`x = floor(x)`, right edge `ceil(x + w)`, so integer
 * boxes are kept exactly); `iscrowd` is the objects' difficult flag. Annotations that point at no
 * image or category or have a bad box, missing image files and classes the model lacks are
 * skipped and counted; a file that is not JSON or not COCO is an error.
 *
 * @param jsonFile - the `instances_*.json`.
 * @param imageDir - the folder of its images.
 * @param opts - the model's labels and the class map.
 * @returns the items (one per image and class present) and the skipped entries.
 * @throws SaliencyError `BAD_DATASET` for an unreadable, malformed or non-COCO file.
 *
 * @example
 * ```ts
 * const { items } = await readCocoDataset('annotations/instances_val2017.json', 'val2017', { labels });
 * ```
 */
export async function readCocoDataset(jsonFile: string, imageDir: string, opts: DatasetOptions): Promise<DatasetReadResult> {
  const file = resolve(jsonFile);
  const root = resolve(imageDir);
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw datasetError(`Cannot read the COCO file ${file}: ${(e as Error).message}`);
  }
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) throw datasetError(`${file} is not a COCO instances file (not a JSON object).`);
  const d = doc as Record<string, unknown>;
  const images = arrayField<CocoImage>(d, 'images', file);
  const annotations = arrayField<CocoAnnotation>(d, 'annotations', file);
  const categories = arrayField<CocoCategory>(d, 'categories', file);
  const result: DatasetReadResult = { items: [], skipped: [] };
  const names = new Map<string, string>();
  for (const c of categories) {
    if (c == null || typeof c.name !== 'string' || (typeof c.id !== 'number' && typeof c.id !== 'string')) throw datasetError(`${file}: a category has no id or name: ${JSON.stringify(c)}.`);
    names.set(String(c.id), c.name);
  }
  const byImage = new Map<string, AnnotatedImage>();
  const order: AnnotatedImage[] = [];
  for (const img of images) {
    const id = img == null ? '' : String(img.id);
    if (img == null || (typeof img.id !== 'number' && typeof img.id !== 'string') || typeof img.file_name !== 'string'
      || !Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) {
      result.skipped.push({ id: id || '?', reason: `image entry without id, file_name or a positive integer width/height: ${JSON.stringify(img)}` });
      continue;
    }
    const entry: AnnotatedImage = { id, imagePath: join(root, img.file_name), width: img.width, height: img.height, objects: [] };
    byImage.set(id, entry);
    order.push(entry);
  }
  for (const a of annotations) {
    const aid = `annotation ${a?.id ?? '?'}`;
    const image = a == null ? undefined : byImage.get(String(a.image_id));
    if (image == null) {
      result.skipped.push({ id: aid, reason: `refers to image ${JSON.stringify(a?.image_id)}, which the file does not list` });
      continue;
    }
    const name = names.get(String(a.category_id));
    if (name == null) {
      result.skipped.push({ id: aid, reason: `refers to category ${JSON.stringify(a.category_id)}, which the file does not list` });
      continue;
    }
    const b = a.bbox;
    if (!Array.isArray(b) || b.length !== 4 || b.some((v) => typeof v !== 'number' || !Number.isFinite(v)) || b[2] <= 0 || b[3] <= 0) {
      result.skipped.push({ id: aid, reason: `bbox must be [x, y, w, h] with w, h > 0; got ${JSON.stringify(b)}` });
      continue;
    }
    const x = Math.floor(b[0]), y = Math.floor(b[1]);
    image.objects.push({
      className: name, difficult: a.iscrowd === 1,
      box: { x, y, width: Math.ceil(b[0] + b[2]) - x, height: Math.ceil(b[1] + b[3]) - y },
    });
  }
  const present = order.filter((img) => {
    if (existsSync(img.imagePath)) return true;
    result.skipped.push({ id: img.id, reason: `image ${img.imagePath} is missing` });
    return false;
  });
  return labelledItems(present, opts, result);
}
