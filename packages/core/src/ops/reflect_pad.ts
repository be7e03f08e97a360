import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, assertRank, assertSpatial } from './validate.js';

/** Slice of `x` along `axis` from `begin`, `size` long. */
function sliceAxis(x: tf.Tensor4D, axis: 1 | 2, begin: number, size: number): tf.Tensor4D {
  const b: [number, number, number, number] = [0, 0, 0, 0];
  const s: [number, number, number, number] = [-1, -1, -1, -1];
  b[axis] = begin;
  s[axis] = size;
  return tf.slice(x, b, s);
}

/** Pads one axis of a 4-D tensor by reflection, however large the pads. */
function reflectAxis(x: tf.Tensor4D, axis: 1 | 2, before: number, after: number): tf.Tensor4D {
  const n0 = x.shape[axis];
  if (before === 0 && after === 0) return x;
  if (n0 === 1) {
    // Reflection of a single pixel is that pixel: replicate it.
    const reps: [number, number, number, number] = [1, 1, 1, 1];
    reps[axis] = 1 + before + after;
    return tf.tile(x, reps);
  }
  // One reflection step pads at most len − 1 per side. For larger pads, repeat
  // it. Every chunk except the last is a multiple of the half period (n0 − 1),
  // so each new edge sits on a mirror point of the periodic reflection and the
  // result equals numpy's np.pad(mode='reflect').
  // Built from slice + reverse + concat rather than tf.mirrorPad: tfjs-core
  // 4.22's MirrorPad gradient only slices the centre and drops the gradient
  // that flows through the reflected border.
  let cur = x;
  let lo = before;
  let hi = after;
  while (lo > 0 || hi > 0) {
    const len = cur.shape[axis];
    const full = (n0 - 1) * Math.floor((len - 1) / (n0 - 1));
    const pl = Math.min(lo, full);
    const ph = Math.min(hi, full);
    const parts: tf.Tensor4D[] = [];
    if (pl > 0) parts.push(tf.reverse(sliceAxis(cur, axis, 1, pl), axis));
    parts.push(cur);
    if (ph > 0) parts.push(tf.reverse(sliceAxis(cur, axis, len - 1 - ph, ph), axis));
    cur = tf.concat(parts, axis);
    lo -= pl;
    hi -= ph;
  }
  return cur;
}

/**
 * Pads the spatial axes of `[N, H, W, C]` by REFLECTION without repeating the
 * edge pixel (numpy `np.pad(mode='reflect')`, OpenCV `BORDER_REFLECT_101`,
 * scipy `mode='mirror'`): `[a b c d]` padded by 2 → `[c b | a b c d | c b]`.
 *
 * Pads larger than the image are allowed: the reflection then continues
 * periodically (period `2·(size − 1)`), exactly as numpy does. A 1-pixel axis is
 * replicated. Built from slice, reverse, concat and tile, so it is correctly
 * differentiable (unlike tfjs-core 4.22's `tf.mirrorPad`, whose gradient drops
 * the border's share) and runs on every backend.
 *
 * @param x - `[N, H, W, C]`.
 * @param padH - `[top, bottom]` non-negative integers.
 * @param padW - `[left, right]` non-negative integers.
 * @returns `[N, H + top + bottom, W + left + right, C]`, same dtype.
 * @throws SaliencyError `BAD_RANK`, `IMAGE_TOO_SMALL` (empty image), `BAD_OPTION` (bad pad).
 *
 * @example
 * ```ts
 * const x = tf.tensor4d([1, 2, 3], [1, 1, 3, 1]);
 * reflectPad(x, [0, 0], [4, 0]).reshape([-1]).print(); // [1, 2, 3, 2, 1, 2, 3]
 * ```
 */
export function reflectPad(
  x: tf.Tensor4D,
  padH: readonly [number, number],
  padW: readonly [number, number],
): tf.Tensor4D {
  assertRank(x, [4], 'reflectPad: x', '[N, H, W, C]');
  assertSpatial(x.shape[1], x.shape[2], 'reflectPad: x', x.shape);
  for (const [v, name] of [
    [padH[0], 'top'],
    [padH[1], 'bottom'],
    [padW[0], 'left'],
    [padW[1], 'right'],
  ] as const) {
    assertInteger(v, 0, `reflectPad: ${name} pad`);
  }
  return tf.tidy(() => {
    // Keep the input itself out of the tidy's result when nothing is padded.
    const start = padH[0] + padH[1] + padW[0] + padW[1] === 0 ? tf.clone(x) : x;
    return reflectAxis(reflectAxis(start, 1, padH[0], padH[1]), 2, padW[0], padW[1]);
  });
}

/** Internal: reflect-pads one axis only (no validation, call inside a tidy). */
export function reflectPadAxis(x: tf.Tensor4D, axis: 1 | 2, before: number, after: number): tf.Tensor4D {
  return reflectAxis(x, axis, before, after);
}
