import { readImage, type DecodedImage } from '@saliency/node';
import type { DatasetReadResult } from './datasets/dataset.js';
import type { EvalItem, EvalSet } from './eval_set.js';

/** The pointing game's tolerance on datasets from disk: 15 px at the image's own resolution (TorchRay). */
export const DATASET_POINTING_TOLERANCE = 15;

/** File-name-safe, unique item ids (dataset ids may hold `/` and `#`). */
function safeIds(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  return ids.map((id) => {
    let safe = id.replace(/[^A-Za-z0-9._-]+/g, '_');
    for (let k = 2; seen.has(safe); k++) safe = `${safe}-${k}`;
    seen.add(safe);
    return safe;
  });
}

/**
 * An evaluation set from a dataset read from disk (`readDataset`): each item's image decoded
 * (once per image file), its target, the boxes of the target class as ground truth (none for
 * folders), the §9 difficult flag, a 15-px pointing tolerance. Items whose image cannot be read
 * or does not have the annotated size are added to `skipped`. The images are held in memory.
 *
 * @param read - what `readDataset` returned (its `skipped` list is extended).
 * @param description - what the set is, for the report.
 *
 * @example
 * ```ts
 * const set = await datasetEvalSet(await readDataset('voc:VOC2007', { labels, split: 'test' }), 'VOC 2007 test');
 * await runEvaluation({ dataset: { set, model: loaded }, methods: ['gradcam'], out: 'report' });
 * ```
 */
export async function datasetEvalSet(read: DatasetReadResult, description: string): Promise<EvalSet> {
  const images = new Map<string, DecodedImage | Error>();
  const items: EvalItem[] = [];
  const ids = safeIds(read.items.map((i) => i.id));
  for (const [k, item] of read.items.entries()) {
    let image = images.get(item.imagePath);
    if (image == null) {
      image = await readImage(item.imagePath).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      images.set(item.imagePath, image);
    }
    if (image instanceof Error) {
      read.skipped.push({ id: item.id, reason: image.message });
      continue;
    }
    if (image.width !== item.width || image.height !== item.height) {
      read.skipped.push({ id: item.id, reason: `the annotation says ${item.width}×${item.height}, the image is ${image.width}×${image.height}` });
      continue;
    }
    items.push({
      id: ids[k], image, path: item.imagePath, target: item.target,
      boxes: item.objects.filter((o) => o.classIndex === item.target).map((o) => ({ ...o.box })),
      difficult: item.difficultSubset, tolerance: DATASET_POINTING_TOLERANCE,
    });
  }
  const labelled = read.items.some((i) => i.objects.length > 0);
  return { name: 'dataset', model: 'custom', description, items, pointing: labelled, localisation: labelled };
}
