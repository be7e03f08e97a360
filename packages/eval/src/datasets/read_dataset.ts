import { readFileSync } from 'node:fs';
import { datasetError, type DatasetOptions, type DatasetReadResult } from './dataset.js';
import { readCocoDataset } from './coco_dataset.js';
import { readFolderDataset } from './folder_dataset.js';
import { readVocDataset } from './voc_dataset.js';

/**
 * Reads a dataset from disk: `voc:<dir>` (Pascal VOC), `coco:<instances.json>,<image dir>`
 * (COCO), or a folder / glob pattern of images (no boxes; target `'top'` or `opts.target`).
 *
 * @param spec - `voc:…`, `coco:…,…`, a folder or a glob.
 * @param opts - the model's labels, the class map, the VOC split, the target.
 * @returns the items and what was skipped (and why).
 * @throws SaliencyError `BAD_DATASET` for a missing or malformed dataset.
 *
 * @example
 * ```ts
 * const { items, skipped } = await readDataset('voc:VOCdevkit/VOC2007', { labels, split: 'test', classMap });
 * ```
 */
export async function readDataset(spec: string, opts: DatasetOptions): Promise<DatasetReadResult> {
  if (spec.startsWith('voc:')) return readVocDataset(spec.slice(4), opts);
  if (spec.startsWith('coco:')) {
    const rest = spec.slice(5);
    const comma = rest.lastIndexOf(',');
    if (comma <= 0 || comma === rest.length - 1) throw datasetError(`--dataset coco: needs the annotation file and the image folder: coco:<instances.json>,<image dir>; got '${spec}'.`);
    return readCocoDataset(rest.slice(0, comma), rest.slice(comma + 1), opts);
  }
  return readFolderDataset(spec, opts);
}

/**
 * Reads a class map: a JSON object from dataset class names to the model's class names.
 *
 * @param file - the JSON file.
 * @throws SaliencyError `BAD_DATASET` when it is unreadable or not an object of strings.
 *
 * @example
 * ```ts
 * const classMap = readClassMap('voc-to-imagenet.json'); // { "motorbike": "moped", … }
 * ```
 */
export function readClassMap(file: string): Record<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw datasetError(`Cannot read the class map ${file}: ${(e as Error).message}`);
  }
  if (v == null || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((e) => typeof e !== 'string')) {
    throw datasetError(`The class map ${file} must be a JSON object from dataset class names to model class names.`);
  }
  return v as Record<string, string>;
}
