import type { Box } from './box.js';

/** The 8-connected components of a binary image, as {@link labelComponents} returns them. */
export interface Components {
  /** Per pixel (row-major), the component number from 1, or 0 for background. */
  labels: Int32Array;
  /** Number of components. */
  count: number;
  /** `sizes[i]` = pixels in component `i + 1`. */
  sizes: number[];
  /** `boxes[i]` = bounding box of component `i + 1`, in whole pixels. */
  boxes: Box[];
}

/**
 * Labels the 8-connected components of the pixels where `on[i] !== 0` in an
 * `h × w` row-major image, numbering them 1, 2, … in the order a row-major scan
 * first meets them (breadth-first flood fill on the JS side; O(h·w)).
 *
 * @example
 * ```ts
 * const { count, sizes } = labelComponents(Uint8Array.from([1, 0, 0, 1]), 2, 2); // one component: diagonal pixels touch
 * ```
 */
export function labelComponents(on: ArrayLike<number>, h: number, w: number): Components {
  const labels = new Int32Array(h * w);
  const queue = new Int32Array(h * w);
  const sizes: number[] = [];
  const boxes: Box[] = [];
  let count = 0;
  for (let start = 0; start < h * w; start++) {
    if (on[start] === 0 || labels[start] !== 0) continue;
    count += 1;
    labels[start] = count;
    let head = 0, tail = 0;
    queue[tail++] = start;
    let x0 = w, y0 = h, x1 = -1, y1 = -1;
    while (head < tail) {
      const p = queue[head++];
      const py = Math.floor(p / w), px = p - py * w;
      if (px < x0) x0 = px;
      if (px > x1) x1 = px;
      if (py < y0) y0 = py;
      if (py > y1) y1 = py;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = py + dy;
        if (ny < 0 || ny >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = px + dx;
          if (nx < 0 || nx >= w) continue;
          const q = ny * w + nx;
          if (on[q] !== 0 && labels[q] === 0) {
            labels[q] = count;
            queue[tail++] = q;
          }
        }
      }
    }
    sizes.push(tail);
    boxes.push({ x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 });
  }
  return { labels, count, sizes, boxes };
}

/**
 * Bounding box (whole pixels) of the largest 8-connected component of the
 * pixels where `on[i] !== 0`, or `null` when there is none. Of components of
 * equal size, the one a row-major scan meets first wins.
 *
 * @example
 * ```ts
 * largestComponentBox(Uint8Array.from([1, 0, 1, 1]), 1, 4); // { x: 2, y: 0, width: 2, height: 1 }
 * ```
 */
export function largestComponentBox(on: ArrayLike<number>, h: number, w: number): Box | null {
  const { sizes, boxes } = labelComponents(on, h, w);
  let best = -1;
  for (let i = 0; i < sizes.length; i++) if (best < 0 || sizes[i] > sizes[best]) best = i;
  return best < 0 ? null : boxes[best];
}
