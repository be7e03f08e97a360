import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  generateLocalisationSet, sampleToTensor, type GeneratedObject, type GeneratedSample,
} from '../../packages/eval/src/datasets/index';
import { useCpu } from '../setup_cpu';

beforeAll(useCpu);

type B = GeneratedObject['box'];
const objects = (s: GeneratedSample) => [...s.boxes, ...s.distractors];
const inside = (b: B, x: number, y: number) => x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height;
/** IoU, written out here (pixel-cell boxes). */
function iou(a: B, b: B): number {
  const iw = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const ih = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  return (iw * ih) / (a.width * a.height + b.width * b.height - iw * ih);
}
/** Largest channel of pixel (x, y). */
const maxChannel = (s: GeneratedSample, x: number, y: number) => {
  const o = (y * s.width + x) * 3;
  return Math.max(s.pixels[o], s.pixels[o + 1], s.pixels[o + 2]);
};

// The mnist package itself, read here independently of the generator's own loader.
const mnist = createRequire(import.meta.url)('mnist') as Record<number, { length: number; get(i: number): number[] }>;

describe('generateLocalisationSet', () => {
  it('is deterministic: same seed → identical bytes and boxes; another seed or split → other images; chunks agree', () => {
    const a = generateLocalisationSet({ seed: 5, count: 6, split: 'train' });
    const b = generateLocalisationSet({ seed: 5, count: 6, split: 'train' });
    for (let i = 0; i < 6; i++) {
      expect(Buffer.from(a[i].pixels).equals(Buffer.from(b[i].pixels))).toBe(true);
      expect(b[i].boxes).toEqual(a[i].boxes);
      expect(b[i].distractors).toEqual(a[i].distractors);
      expect(b[i].label).toBe(a[i].label);
    }
    const c = generateLocalisationSet({ seed: 6, count: 6, split: 'train' });
    const d = generateLocalisationSet({ seed: 5, count: 6, split: 'test' });
    for (let i = 0; i < 6; i++) {
      expect(Buffer.from(c[i].pixels).equals(Buffer.from(a[i].pixels))).toBe(false);
      expect(Buffer.from(d[i].pixels).equals(Buffer.from(a[i].pixels))).toBe(false);
    }
    // Sample i depends only on (seed, split, i): generating from `first` = 3 gives samples 3…5 again.
    const tail = generateLocalisationSet({ seed: 5, count: 3, split: 'train', first: 3 });
    for (let i = 0; i < 3; i++) {
      expect(Buffer.from(tail[i].pixels).equals(Buffer.from(a[3 + i].pixels))).toBe(true);
      expect(tail[i].id).toBe(a[3 + i].id);
    }
    expect(new Set(a.map((s) => s.id)).size).toBe(6);
  });

  it('keeps every box inside the image, 1–3 targets and 0–2 distractors of other classes, IoU < 0.1, at both sizes', () => {
    for (const size of [[224, 224], [375, 500]] as const) {
      const set = generateLocalisationSet({ seed: 11, count: 25, split: 'test', size });
      const nDistractors = new Set<number>();
      for (const s of set) {
        expect([s.height, s.width]).toEqual(size);
        expect(s.pixels.length).toBe(size[0] * size[1] * 3);
        expect(s.boxes.length).toBeGreaterThanOrEqual(1);
        expect(s.boxes.length).toBeLessThanOrEqual(3);
        expect(s.distractors.length).toBeLessThanOrEqual(2);
        nDistractors.add(s.distractors.length);
        for (const o of s.boxes) expect(o.label).toBe(s.label);
        for (const o of s.distractors) expect(o.label).not.toBe(s.label);
        const all = objects(s);
        for (const { box } of all) {
          expect(box.x).toBeGreaterThanOrEqual(0);
          expect(box.y).toBeGreaterThanOrEqual(0);
          expect(box.x + box.width).toBeLessThanOrEqual(s.width);
          expect(box.y + box.height).toBeLessThanOrEqual(s.height);
          // digit height 15–90 % of the shorter side (shrunk at most a few times when crowded), rotated by ≤ 11.5°
          expect(Math.max(box.width, box.height)).toBeGreaterThan(0.05 * Math.min(...size));
        }
        for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) expect(iou(all[i].box, all[j].box)).toBeLessThan(0.1);
      }
      expect([...nDistractors].sort()).toEqual([0, 1, 2]);
    }
  });

  it('boxes are tight around the ink, checked against the pixels of the black-background rendering', () => {
    const noisy = generateLocalisationSet({ seed: 21, count: 12, split: 'train' });
    const black = generateLocalisationSet({ seed: 21, count: 12, split: 'train', background: 'black' });
    let checkedOutside = 0;
    for (let n = 0; n < black.length; n++) {
      const s = black[n];
      // The background is drawn from its own random stream: the objects and places do not depend on it.
      expect(objects(noisy[n])).toEqual(objects(s));
      const all = objects(s);
      const inOther = (self: GeneratedObject, x: number, y: number) => all.some((o) => o !== self && inside(o.box, x, y));
      // Every pixel that is not black lies inside some box.
      for (let y = 0; y < s.height; y++) {
        for (let x = 0; x < s.width; x++) {
          if (maxChannel(s, x, y) > 0) expect(all.some((o) => inside(o.box, x, y))).toBe(true);
        }
      }
      for (const o of all) {
        const { x, y, width: w, height: h } = o.box;
        const row = (yy: number) => Array.from({ length: w }, (_, i) => [x + i, yy] as const);
        const col = (xx: number) => Array.from({ length: h }, (_, i) => [xx, y + i] as const);
        // Each border row and column of the box holds ink (ink on black: ≥ 0.15 × 216 ≈ 32).
        for (const line of [row(y), row(y + h - 1), col(x), col(x + w - 1)]) {
          expect(Math.max(...line.map(([px, py]) => maxChannel(s, px, py)))).toBeGreaterThanOrEqual(30);
        }
        // The rows and columns just outside hold none, except where another object's box reaches.
        const outside = [y > 0 ? row(y - 1) : [], y + h < s.height ? row(y + h) : [], x > 0 ? col(x - 1) : [], x + w < s.width ? col(x + w) : []];
        for (const line of outside) {
          for (const [px, py] of line) {
            if (inOther(o, px, py)) continue;
            expect(maxChannel(s, px, py)).toBe(0);
            checkedOutside++;
          }
        }
      }
      // On the noisy background the digits stand out: background ≤ 130, every object reaches ≥ 200.
      const t = noisy[n];
      for (let y = 0; y < t.height; y += 3) for (let x = 0; x < t.width; x += 3) {
        if (!all.some((o) => inside(o.box, x, y))) expect(maxChannel(t, x, y)).toBeLessThanOrEqual(130);
      }
      for (const o of all) {
        let peak = 0;
        for (let yy = o.box.y; yy < o.box.y + o.box.height; yy++) for (let xx = o.box.x; xx < o.box.x + o.box.width; xx++) peak = Math.max(peak, maxChannel(t, xx, yy));
        expect(peak).toBeGreaterThanOrEqual(200);
      }
    }
    expect(checkedOutside).toBeGreaterThan(1000);
  });

  it('flags "difficult" exactly when every target box covers < 1/4 of the image or a distractor is present; both kinds occur', () => {
    const set = generateLocalisationSet({ seed: 31, count: 80, split: 'test' });
    for (const s of set) {
      const small = s.boxes.every((o) => o.box.width * o.box.height * 4 < s.width * s.height);
      expect(s.difficult).toBe(small || s.distractors.length > 0);
    }
    const difficult = set.filter((s) => s.difficult).length;
    expect(difficult).toBeGreaterThan(0.6 * set.length);
    expect(difficult).toBeLessThan(set.length);
  });

  it('draws train and test digits from disjoint MNIST images (first 80 % / the rest of each digit), and `source` is the image drawn', () => {
    const train = generateLocalisationSet({ seed: 41, count: 60, split: 'train' }).flatMap(objects);
    const test = generateLocalisationSet({ seed: 41, count: 60, split: 'test' }).flatMap(objects);
    for (const o of train) expect(o.source).toBeLessThan(Math.floor(0.8 * mnist[o.label].length));
    for (const o of test) {
      expect(o.source).toBeGreaterThanOrEqual(Math.floor(0.8 * mnist[o.label].length));
      expect(o.source).toBeLessThan(mnist[o.label].length);
    }
    const key = (o: GeneratedObject) => `${o.label}:${o.source}`;
    const trainKeys = new Set(train.map(key));
    expect(test.some((o) => trainKeys.has(key(o)))).toBe(false);
    expect(new Set(test.map((o) => o.label)).size).toBe(10);

    // `source` is real: the object's ink (black background), shrunk to the MNIST image's ink box,
    // correlates better with that MNIST image than with other images of the same digit.
    const black = generateLocalisationSet({ seed: 41, count: 9, split: 'test', background: 'black' });
    const ranks: number[] = [];
    for (const s of black) {
      for (const o of objects(s)) {
        const others = Array.from({ length: 15 }, (_, i) => (o.source + 7 * (i + 1)) % mnist[o.label].length);
        const scores = [o.source, ...others].map((idx) => tf.tidy(() => {
          const img = mnist[o.label].get(idx);
          let r0 = 28, r1 = -1, c0 = 28, c1 = -1;
          img.forEach((v, i) => { if (v >= 0.15) { const r = Math.floor(i / 28), c = i % 28; r0 = Math.min(r0, r); r1 = Math.max(r1, r); c0 = Math.min(c0, c); c1 = Math.max(c1, c); } });
          const ref = tf.slice(tf.tensor2d(img, [28, 28]), [r0, c0], [r1 - r0 + 1, c1 - c0 + 1]);
          const crop = tf.slice(tf.max(tf.reshape(tf.tensor1d(Float32Array.from(s.pixels)), [s.height, s.width, 3]), 2), [o.box.y, o.box.x], [o.box.height, o.box.width]);
          const small = tf.squeeze(tf.image.resizeBilinear(tf.expandDims(crop, 2) as tf.Tensor3D, [r1 - r0 + 1, c1 - c0 + 1], true), [2]);
          const zs = (t: tf.Tensor) => { const m = tf.moments(t); return tf.div(tf.sub(t, m.mean), tf.sqrt(tf.add(m.variance, 1e-9))); };
          return tf.mean(tf.mul(zs(ref), zs(small))).dataSync()[0];
        }));
        ranks.push(scores.filter((v) => v > scores[0]).length);
      }
    }
    // By chance the true image would rank first 1 time in 16 (rotation ±11.5° and stretch blur the match).
    expect(ranks.length).toBeGreaterThan(12);
    expect(ranks.filter((r) => r === 0).length / ranks.length).toBeGreaterThan(0.65);
    expect(ranks.filter((r) => r < 3).length / ranks.length).toBeGreaterThan(0.9);
  });

  it('sampleToTensor gives [H, W, 3] float32 with the pixels in 0–255; bad options throw BAD_OPTION', () => {
    const [s] = generateLocalisationSet({ seed: 3, count: 1, split: 'test', size: [48, 64] });
    const before = tf.memory().numTensors;
    const t = sampleToTensor(s);
    expect(t.shape).toEqual([48, 64, 3]);
    expect(t.dtype).toBe('float32');
    const v = t.dataSync();
    expect(v[0]).toBe(s.pixels[0]);
    expect(v[v.length - 1]).toBe(s.pixels[s.pixels.length - 1]);
    expect(Math.max(...v)).toBe(Math.max(...s.pixels));
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const bad = [
      { seed: 1, count: -1, split: 'train' },
      { seed: 1, count: 1, split: 'val' },
      { seed: 1, count: 1, split: 'train', size: [10, 224] },
      { seed: 1, count: 1, split: 'train', scale: [0.5, 0.2] },
      { seed: 1, count: 1, split: 'train', maxIoU: 0 },
      { seed: 1, count: 1, split: 'train', targetWeights: [] },
      { seed: Number.NaN, count: 1, split: 'train' },
    ];
    for (const opts of bad) {
      expect(() => generateLocalisationSet(opts as Parameters<typeof generateLocalisationSet>[0])).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    }
  });
});
