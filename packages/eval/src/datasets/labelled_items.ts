import { isDifficultEntry } from './difficult.js';
import { mapClass, type DatasetObject, type DatasetOptions, type DatasetReadResult } from './dataset.js';

/** An annotated image as a reader found it, before class mapping. */
export interface AnnotatedImage {
  /** Image id in the dataset (VOC file stem, COCO image id). */
  id: string;
  /** Absolute image path. */
  imagePath: string;
  /** Width, pixels. */
  width: number;
  /** Height, pixels. */
  height: number;
  /** Its objects (class names as in the dataset). */
  objects: Omit<DatasetObject, 'classIndex'>[];
}

/**
 * One item per (image, class present) whose class the model has; entries of classes the model
 * lacks are skipped and counted, as are images without objects. With a numeric `opts.target` only
 * entries of that model class are kept (others are not counted as skipped).
 *
 * @example
 * ```ts
 * const { items, skipped } = labelledItems(images, { labels: ['cat', 'dog'] });
 * ```
 */
export function labelledItems(images: readonly AnnotatedImage[], opts: DatasetOptions, out: DatasetReadResult = { items: [], skipped: [] }): DatasetReadResult {
  for (const img of images) {
    const objects: DatasetObject[] = img.objects.map((o) => ({ ...o, classIndex: mapClass(o.className, opts.labels, opts.classMap) }));
    if (objects.length === 0) {
      out.skipped.push({ id: img.id, reason: 'no annotated objects' });
      continue;
    }
    const unknown = [...new Set(objects.filter((o) => o.classIndex < 0).map((o) => o.className))];
    for (const name of unknown) {
      out.skipped.push({ id: `${img.id}#${name}`, reason: `class '${name}' is not one of the model's classes${opts.classMap != null ? ' (after the class map)' : ''}` });
    }
    // One entry per model class present (two dataset classes mapped onto one model class make one entry).
    const indices = [...new Set(objects.map((o) => o.classIndex).filter((i) => i >= 0))].sort((a, b) => a - b);
    for (const index of indices) {
      if (typeof opts.target === 'number' && opts.target !== index) continue;
      out.items.push({
        id: `${img.id}#${index}`, imagePath: img.imagePath, width: img.width, height: img.height, objects, target: index,
        difficultSubset: isDifficultEntry(objects, (o) => o.classIndex === index, img.width, img.height),
      });
    }
  }
  return out;
}
