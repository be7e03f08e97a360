import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { pointingGame, pointingHit, type Box, type PointingEntry } from '@saliency/metrics';
import { useCpu } from '../setup_cpu';

beforeAll(useCpu);

/** A 64×64 map of small noise with its maximum at column x, row y. */
function peakAt(x: number, y: number, h = 64, w = 64): tf.Tensor2D {
  const d = Float32Array.from({ length: h * w }, (_, i) => 0.1 * Math.abs(Math.sin(i * 12.9898)));
  d[y * w + x] = 1;
  return tf.tensor2d(d, [h, w]);
}
const BOX: Box = { x: 20, y: 10, width: 10, height: 20 }; // covers columns 20…29, rows 10…29

describe('pointingHit', () => {
  it('hits inside the box, within the tolerance (distance from the peak pixel centre), and misses beyond', async () => {
    const cases: [number, number, number, boolean][] = [
      [25, 15, 15, true],  // inside
      [25, 15, 0, true],   // inside, no tolerance
      [19, 15, 0, false],  // just left of the box: centre 19.5 is 0.5 px away
      [19, 15, 0.5, true],
      [44, 20, 15, true],  // centre 44.5: 14.5 px right of the edge at 30
      [45, 20, 15, false], // 15.5 px
      [40, 40, 15, true],  // diagonal from the corner (30, 30): (10.5, 10.5) → 14.85 px
      [41, 41, 15, false], // (11.5, 11.5) → 16.26 px
    ];
    const before = tf.memory().numTensors;
    for (const [x, y, tol, want] of cases) {
      const m = peakAt(x, y);
      const r = await pointingHit(m, [BOX], tol);
      expect(r.peak).toEqual({ x, y });
      expect(r.hit, `peak (${x}, ${y}) tolerance ${tol}`).toBe(want);
      m.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('uses the default tolerance of 15 px, any of several boxes, and the first maximum when tied', async () => {
    const m = peakAt(45, 20);
    expect((await pointingHit(m, [BOX])).hit).toBe(false);
    expect((await pointingHit(m, [BOX, { x: 50, y: 50, width: 5, height: 5 }])).hit).toBe(false);
    expect((await pointingHit(m, [BOX, { x: 50, y: 30, width: 5, height: 5 }])).hit).toBe(true); // 5.5 px above the second box
    const tied = tf.tensor2d([[0, 1, 0], [1, 0, 0]]);
    expect((await pointingHit(tied, [{ x: 0, y: 0, width: 1, height: 1 }], 0)).peak).toEqual({ x: 1, y: 0 });
    await expect(pointingHit(m, [])).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(pointingHit(m, [BOX], -1)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    tf.dispose([m, tied]);
  });
});

describe('pointingGame', () => {
  it('averages per-class accuracies (not the overall hit rate) and reports the difficult subset', async () => {
    const hit = () => peakAt(25, 15);
    const miss = () => peakAt(60, 60);
    // class 0: 3 of 4 hits; class 7: 0 of 1; class 2: 1 of 1 → mean (0.75 + 0 + 1) / 3; overall rate would be 4/6
    const entries: PointingEntry[] = [
      { map: hit(), boxes: [BOX], classId: 0 },
      { map: hit(), boxes: [BOX], classId: 0, difficult: true },
      { map: hit(), boxes: [BOX], classId: 0 },
      { map: miss(), boxes: [BOX], classId: 0, difficult: true },
      { map: miss(), boxes: [BOX], classId: 7, difficult: true },
      { map: hit(), boxes: [BOX], classId: 2, difficult: false },
    ];
    const before = tf.memory().numTensors;
    const r = await pointingGame(entries);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.perClass[0]).toEqual({ hits: 3, total: 4, accuracy: 0.75 });
    expect(r.perClass[7]).toEqual({ hits: 0, total: 1, accuracy: 0 });
    expect(r.perClass[2]).toEqual({ hits: 1, total: 1, accuracy: 1 });
    expect(r.mean).toBeCloseTo(1.75 / 3, 12);
    expect(r.difficult.count).toBe(3);
    expect(r.difficult.perClass[0]).toEqual({ hits: 1, total: 2, accuracy: 0.5 });
    expect(r.difficult.perClass[7]).toEqual({ hits: 0, total: 1, accuracy: 0 });
    expect(r.difficult.perClass[2]).toBeUndefined();
    expect(r.difficult.mean).toBeCloseTo(0.25, 12);
    // the tolerance option: a peak 20 px off the box hits with tolerance 25 only
    const off = [{ map: peakAt(49, 20), boxes: [BOX], classId: 1 }];
    expect((await pointingGame(off)).mean).toBe(0);
    expect((await pointingGame(off, { tolerance: 25 })).mean).toBe(1);
    expect(Number.isNaN((await pointingGame(off)).difficult.mean)).toBe(true);
    await expect(pointingGame([])).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(pointingGame([{ map: off[0].map, boxes: [BOX], classId: -1 }])).rejects.toMatchObject({ code: 'BAD_OPTION' });
    tf.dispose([...entries.map((e) => e.map), off[0].map]);
  });
});
