import type * as tf from '@tensorflow/tfjs-core';
import type { Box } from './box.js';
import { largestComponentBox } from './connected_components.js';
import { checkThreshold, readMap, resolveThreshold } from './read_map.js';

/** Options of {@link boxFromMask}. */
export interface BoxFromMaskOptions {
  /** Pixels with a value ≥ threshold are in the mask; `'mean'` (default) = the map's mean. */
  threshold?: number | 'mean';
}

/**
 * A localisation box from a saliency map: pixels ≥ threshold (default: the
 * map's mean), their largest 8-connected component, its bounding box in whole
 * pixels (`width` = columns covered). A constant map with the `'mean'`
 * threshold keeps every pixel, i.e. gives the whole image.
 *
 * @param map - `[H, W]` saliency map (read back once).
 * @param opts - see {@link BoxFromMaskOptions}.
 * @returns the box, or `null` when no pixel reaches the threshold.
 * @throws SaliencyError `BAD_RANK`, `IMAGE_TOO_SMALL`, `NON_FINITE_INPUT`, `BAD_OPTION`.
 *
 * @example
 * ```ts
 * const box = await boxFromMask(map);                    // threshold at the mean
 * const tight = await boxFromMask(map, { threshold: 0.5 });
 * ```
 */
export async function boxFromMask(map: tf.Tensor2D, opts: BoxFromMaskOptions = {}): Promise<Box | null> {
  const fn = 'boxFromMask';
  const threshold = checkThreshold(opts.threshold ?? 'mean', fn);
  const { values, h, w } = await readMap(map, fn);
  const t = resolveThreshold(threshold, values);
  const on = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) on[i] = values[i] >= t ? 1 : 0;
  return largestComponentBox(on, h, w);
}
