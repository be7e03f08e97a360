import * as tf from '@tensorflow/tfjs-core';
import type { LongRunningOptions } from './types.js';
import { yieldToEventLoop } from './event_loop.js';
import { checkPositiveInt, throwIfAborted } from './validate.js';

/**
 * Runs `run` on consecutive slices `[start, start + size)` of `n` items and
 * concatenates the results along axis 0. Reports progress after each slice and
 * checks the abort signal between slices, yielding to the event loop before each next slice
 * (so a signal fired by a timer or a button is seen, and other work gets a turn); partial results are disposed when a
 * slice throws or the signal fires. Peak memory is one slice's work plus the
 * (small) results.
 *
 * @example
 * ```ts
 * const maps = await concatBatches(images.shape[0], 4, (s, k) => mapsOf(tf.slice(images, s, k)), { phase: 'gradients' });
 * ```
 */
export async function concatBatches<T extends tf.Tensor>(
  n: number,
  batchSize: number,
  run: (start: number, size: number) => T | Promise<T>,
  opts: LongRunningOptions & { phase?: string } = {},
): Promise<T> {
  checkPositiveInt(batchSize, 'batchSize');
  const parts: T[] = [];
  try {
    for (let start = 0; start < n; start += batchSize) {
      throwIfAborted(opts.signal);
      const size = Math.min(batchSize, n - start);
      parts.push(await run(start, size));
      opts.onProgress?.({ done: start + size, total: n, phase: opts.phase ?? 'batches' });
      if (start + size < n) await yieldToEventLoop(); // lets a timer- or UI-fired AbortSignal land
    }
    if (parts.length === 1) return parts.pop() as T;
    return tf.concat(parts, 0) as T;
  } finally {
    for (const p of parts) p.dispose();
  }
}

/** `tf.slice` of items `[start, start + size)` along axis 0. */
export function sliceBatch<T extends tf.Tensor>(x: T, start: number, size: number): T {
  if (start === 0 && size === x.shape[0]) return tf.clone(x);
  const begin = x.shape.map((_, i) => (i === 0 ? start : 0));
  const len = x.shape.map((d, i) => (i === 0 ? size : d));
  return tf.slice(x, begin, len);
}
