/**
 * Input checks shared by the ops. Internal: not re-exported from the ops index.
 * Every check looks at shapes and JS numbers only; none reads tensor data.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '../errors.js';

/** `[a, b, c]` for messages. */
export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Throws `BAD_RANK` unless `x` has one of the given ranks.
 * @param what - how the message names the tensor, e.g. `'minMaxNormalize: maps'`.
 * @param layout - the expected layout(s), e.g. `'[N, H, W]'`.
 */
export function assertRank(x: tf.Tensor, ranks: readonly number[], what: string, layout: string): void {
  if (!ranks.includes(x.rank)) {
    throw new SaliencyError(
      'BAD_RANK',
      `${what} must be ${layout} (rank ${ranks.join(' or ')}), got shape ${shapeString(x.shape)} ` +
        `(rank ${x.rank}). Reshape it first, e.g. with tf.expandDims or tf.squeeze.`,
    );
  }
}

/** Throws `IMAGE_TOO_SMALL` when a spatial dimension is below 1 pixel. */
export function assertSpatial(h: number, w: number, what: string, shape: readonly number[]): void {
  if (!(h >= 1 && w >= 1)) {
    throw new SaliencyError(
      'IMAGE_TOO_SMALL',
      `${what} has shape ${shapeString(shape)}: height and width must both be at least 1 pixel. ` +
        'Pass a non-empty image.',
    );
  }
}

/** Throws `BAD_OPTION` unless `v` is a finite number with `v > 0` (or `v >= 0` when `allowZero`). */
export function assertPositive(v: unknown, what: string, allowZero = false): asserts v is number {
  const ok = typeof v === 'number' && Number.isFinite(v) && (allowZero ? v >= 0 : v > 0);
  if (!ok) {
    throw new SaliencyError(
      'BAD_OPTION',
      `${what} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${String(v)}.`,
    );
  }
}

/** Throws `BAD_OPTION` unless `v` is an integer `>= min`. */
export function assertInteger(v: unknown, min: number, what: string): asserts v is number {
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= min)) {
    throw new SaliencyError('BAD_OPTION', `${what} must be an integer >= ${min}, got ${String(v)}.`);
  }
}

/** Throws `BAD_OPTION` unless `v` is a finite number in `[lo, hi]`. */
export function assertInRange(v: unknown, lo: number, hi: number, what: string): asserts v is number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi)) {
    throw new SaliencyError('BAD_OPTION', `${what} must be a number in [${lo}, ${hi}], got ${String(v)}.`);
  }
}
