import { SaliencyError } from '@saliency/core/base';

/** A box in whole pixels: columns `x … x + width − 1`, rows `y … y + height − 1` (0-based). */
export interface DatasetBox {
  /** Leftmost column. */
  x: number;
  /** Top row. */
  y: number;
  /** Width in pixels (≥ 1). */
  width: number;
  /** Height in pixels (≥ 1). */
  height: number;
}

/** One annotated object of an image. */
export interface DatasetObject {
  /** The dataset's class name. */
  className: string;
  /** The model's class index it maps to, or −1 when the model has no such class. */
  classIndex: number;
  /** Its box. */
  box: DatasetBox;
  /** The dataset's own "difficult" flag (Pascal VOC `<difficult>`, COCO `iscrowd`). */
  difficult: boolean;
}

/**
 * One unit of a dataset run: an image and the class to explain. Labelled sets give one item per
 * (image, class present) that the model knows; folders give one item per image with target
 * `'top'` (or `--target`).
 */
export interface DatasetItem {
  /** Stable and unique within the dataset: `<image id>` for folders, `<image id>/<class index>` for labelled sets. */
  id: string;
  /** Absolute path of the image. */
  imagePath: string;
  /** Image width, pixels (from the annotation, else the file). */
  width: number;
  /** Image height, pixels. */
  height: number;
  /** Every annotated object of the image (empty for folders). */
  objects: DatasetObject[];
  /** The class to explain: a model class index, or `'top'` (the model's own top class). */
  target: number | 'top';
  /** design.md §9: the target's boxes cover < 1/4 of the image, or another class is present. */
  difficultSubset: boolean;
}

/** What {@link readDataset} found: the items, and what it left out and why. */
export interface DatasetReadResult {
  /** The items, in a stable order (image order of the dataset, then class index). */
  items: DatasetItem[];
  /** Entries left out: an unknown class, a missing image, an annotation that cannot be read. */
  skipped: SkippedEntry[];
}

/** An entry a reader left out, and why. */
export interface SkippedEntry {
  /** The image id, `<image id>#<class>`, or `annotation <id>`. */
  id: string;
  /** What was wrong, for the printout. */
  reason: string;
}

/** Options of {@link readDataset} and the readers. */
export interface DatasetOptions {
  /** The model's class names, in output order. */
  labels: readonly string[];
  /** Dataset class name → model class name (default: exact names). */
  classMap?: Readonly<Record<string, string>>;
  /** Pascal VOC `ImageSets/Main/<split>.txt` (default: every annotation). */
  split?: string;
  /** Target of folder items: a class index or `'top'` (default). Labelled sets explain each class present unless a number is given, which keeps only that class. */
  target?: number | 'top';
}

/** A coded dataset error. */
export function datasetError(message: string): SaliencyError {
  return new SaliencyError('BAD_DATASET', message);
}

/**
 * The model class index of a dataset class name: through `classMap` when it names the class,
 * else the exact name; −1 when the model has no such class.
 *
 * @example
 * ```ts
 * mapClass('motorbike', ['car', 'motorcycle'], { motorbike: 'motorcycle' }); // 1
 * ```
 */
export function mapClass(name: string, labels: readonly string[], classMap?: Readonly<Record<string, string>>): number {
  const wanted = classMap != null && Object.prototype.hasOwnProperty.call(classMap, name) ? classMap[name] : name;
  return labels.indexOf(wanted);
}
