import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { boxFromMask, iou, localisationError, type Box } from '@saliency/metrics';
import { useCpu } from '../setup_cpu';

beforeAll(useCpu);

/** A map from rows of characters: '.' = 0, digits = their value. */
function mapOf(rows: string[]): tf.Tensor2D {
  const h = rows.length, w = rows[0].length;
  return tf.tensor2d(rows.join('').split('').map((ch) => (ch === '.' ? 0 : Number(ch))), [h, w]);
}

describe('iou', () => {
  it('is intersection over union of the continuous rectangles', () => {
    const a: Box = { x: 0, y: 0, width: 10, height: 10 };
    expect(iou(a, a)).toBe(1);
    expect(iou(a, { x: 5, y: 0, width: 10, height: 10 })).toBeCloseTo(50 / 150, 12);
    expect(iou(a, { x: 2, y: 3, width: 4, height: 5 })).toBeCloseTo(20 / 100, 12); // contained
    expect(iou(a, { x: 10, y: 0, width: 5, height: 5 })).toBe(0); // touching edges
    expect(iou(a, { x: 7.5, y: -2.5, width: 5, height: 5 })).toBeCloseTo((2.5 * 2.5) / (100 + 25 - 6.25), 12);
    expect(iou({ x: 1, y: 1, width: 0, height: 0 }, { x: 1, y: 1, width: 0, height: 0 })).toBe(0);
    expect(() => iou(a, { x: 0, y: 0, width: -1, height: 2 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => iou(a, { x: Number.NaN, y: 0, width: 1, height: 2 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
  });
});

describe('boxFromMask', () => {
  it('boxes the largest 8-connected component of the pixels ≥ threshold', async () => {
    const m = mapOf([
      '..........',
      '.55.......',
      '.55....9..',
      '........9.',
      '.......9.9', // 9s: diagonal neighbours form ONE component of 4 pixels (8-connectivity)
      '..........',
    ]);
    const before = tf.memory().numTensors;
    // mean = (4·5 + 4·9) / 60 ≈ 0.93: all 8 non-zero pixels pass; the 5-block and the 9-chain have 4 each → first met (5-block)
    expect(await boxFromMask(m)).toEqual({ x: 1, y: 1, width: 2, height: 2 });
    // threshold 6: only the chain
    expect(await boxFromMask(m, { threshold: 6 })).toEqual({ x: 7, y: 2, width: 3, height: 3 });
    expect(await boxFromMask(m, { threshold: 10 })).toBeNull(); // empty mask
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('picks the larger of two components, uses ≥, and takes the mean as default threshold', async () => {
    const m = mapOf([
      '2.......',
      '..3333..',
      '..3333..',
      '..33....',
      '........',
      '1.....22',
    ]);
    // sum = 2 + 10·3 + 1 + 2·2 = 37, mean = 37/48 ≈ 0.77: everything non-zero passes; the 3-block (10 px) is largest
    expect(await boxFromMask(m)).toEqual({ x: 2, y: 1, width: 4, height: 3 });
    expect(await boxFromMask(m, { threshold: 2 })).toEqual({ x: 2, y: 1, width: 4, height: 3 });
    expect(await boxFromMask(m, { threshold: 3 })).toEqual({ x: 2, y: 1, width: 4, height: 3 });
    // a constant map: every pixel equals the mean → the whole image
    const flat = tf.fill([3, 5], 0.25) as tf.Tensor2D;
    expect(await boxFromMask(flat)).toEqual({ x: 0, y: 0, width: 5, height: 3 });
    // 4-connected would split this ring-with-diagonal; 8-connected keeps one component
    const diag = mapOf(['1...', '.1..', '..1.', '...1']);
    expect(await boxFromMask(diag, { threshold: 1 })).toEqual({ x: 0, y: 0, width: 4, height: 4 });
    tf.dispose([m, flat, diag]);
  });

  it('rejects bad input', async () => {
    const m3 = tf.zeros([1, 4, 4]);
    const nan = tf.tensor2d([[0, Number.NaN]]);
    const ok = tf.zeros([2, 2]) as tf.Tensor2D;
    await expect(boxFromMask(m3 as unknown as tf.Tensor2D)).rejects.toMatchObject({ code: 'BAD_RANK' });
    await expect(boxFromMask(nan)).rejects.toMatchObject({ code: 'NON_FINITE_INPUT' });
    await expect(boxFromMask(ok, { threshold: Number.NaN })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    tf.dispose([m3, nan, ok]);
  });
});

describe('localisationError', () => {
  it('counts a prediction right when IoU ≥ 0.5 with any ground-truth box; null is wrong', () => {
    const gt: Box[][] = [
      [{ x: 0, y: 0, width: 10, height: 10 }],
      [{ x: 0, y: 0, width: 10, height: 10 }, { x: 20, y: 20, width: 10, height: 10 }],
      [{ x: 0, y: 0, width: 10, height: 10 }],
      [{ x: 0, y: 0, width: 10, height: 10 }],
    ];
    const predicted: (Box | null)[] = [
      { x: 0, y: 0, width: 10, height: 5 },   // IoU 0.5 exactly → right
      { x: 22, y: 20, width: 10, height: 10 }, // IoU 0.667 with the second box → right
      { x: 5, y: 0, width: 10, height: 10 },   // IoU 1/3 → wrong
      null,                                    // no box → wrong
    ];
    expect(localisationError(predicted, gt)).toEqual({ error: 0.5, correct: 2, total: 4 });
    expect(localisationError(predicted, gt, { iouThreshold: 0.3 })).toEqual({ error: 0.25, correct: 3, total: 4 });
    expect(localisationError(predicted, gt, { iouThreshold: 0.6 })).toEqual({ error: 0.75, correct: 1, total: 4 });
    expect(() => localisationError(predicted, gt.slice(1))).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => localisationError([], [])).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => localisationError(predicted, gt, { iouThreshold: 2 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
  });
});
