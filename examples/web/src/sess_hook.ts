/// <reference path="./virtual.d.ts" />
/*
 * SESS hook. `virtual:saliency-sess` is made by vite.config.ts: it re-exports
 * `sess` from `@saliency/sess` when that package has sources, else `null`.
 * The page shows the SESS switch only when `SESS` is not null. The page's
 * default is 6 scales (31 patches for a square image) rather than the
 * reference's 12 (129 patches), so that it stays interactive on a laptop GPU.
 */
import { sess } from 'virtual:saliency-sess';
import type { LongRunningOptions, SaliencyMethod } from '@saliency/core/base';

/** Wraps a base method in SESS, reporting to the run's progress and signal; null when SESS is not built in. */
const wrap = sess;
export const SESS: ((base: SaliencyMethod, run: LongRunningOptions, scales: number) => SaliencyMethod) | null = wrap == null
  ? null
  : (base, run, scales) => wrap(base, { ...run, scales });
