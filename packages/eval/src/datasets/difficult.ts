import type { DatasetBox, DatasetObject } from './dataset.js';

/**
 * Pixels covered by the union of boxes (whole-pixel boxes; overlaps counted once), by coordinate
 * compression — exact, and independent of the image size.
 *
 * @example
 * ```ts
 * unionArea([{ x: 0, y: 0, width: 2, height: 2 }, { x: 1, y: 1, width: 2, height: 2 }]); // 7
 * ```
 */
export function unionArea(boxes: readonly DatasetBox[]): number {
  if (boxes.length === 0) return 0;
  const xs = [...new Set(boxes.flatMap((b) => [b.x, b.x + b.width]))].sort((a, b) => a - b);
  const ys = [...new Set(boxes.flatMap((b) => [b.y, b.y + b.height]))].sort((a, b) => a - b);
  let area = 0;
  for (let i = 0; i + 1 < xs.length; i++) {
    for (let j = 0; j + 1 < ys.length; j++) {
      const cx = xs[i], cy = ys[j];
      if (boxes.some((b) => b.x <= cx && cx < b.x + b.width && b.y <= cy && cy < b.y + b.height)) area += (xs[i + 1] - cx) * (ys[j + 1] - cy);
    }
  }
  return area;
}

/**
 * design.md §9's "difficult" rule of the pointing game (TorchRay, as SESS used it) for one
 * (image, class): the class's boxes together cover less than a quarter of the image, or an object
 * of another class is present (whether the model knows that class or not).
 *
 * @param objects - every object of the image.
 * @param isClass - whether an object belongs to the entry's class (by model class, after the class map).
 * @param width - image width.
 * @param height - image height.
 *
 * @example
 * ```ts
 * isDifficultEntry(item.objects, (o) => o.classIndex === item.target, item.width, item.height);
 * ```
 */
export function isDifficultEntry(objects: readonly DatasetObject[], isClass: (o: DatasetObject) => boolean, width: number, height: number): boolean {
  if (objects.some((o) => !isClass(o))) return true;
  return unionArea(objects.map((o) => o.box)) * 4 < width * height;
}
