// A synthetic localisation task for SESS: an 'X' detector (a fixed template-matching CNN) and generated
// images holding two copies of the X at different sizes plus square-ring distractors, with exact boxes.
import * as tf from '@tensorflow/tfjs-core';
import { fromFunction, type Classifier } from '@saliency/core/base';
import { rng } from '../setup_cpu';

/** A box in pixels: x, y of the top-left corner, width, height. */
export interface Box { x: number; y: number; width: number; height: number }

/** Is (u, v) in the unit square inside the X (two diagonal strokes)? */
export const inX = (u: number, v: number) => Math.abs(u - v) <= 0.11 || Math.abs(u + v - 1) <= 0.11;
/** Is (u, v) inside the square ring (the distractor)? */
export const inRing = (u: number, v: number) => Math.max(Math.abs(u - 0.5), Math.abs(v - 0.5)) >= 0.36;

/** 7×7 zero-mean unit-norm templates of the X and the ring, as drawn by {@link drawShape} at 7 pixels. */
function template(inside: (u: number, v: number) => boolean): number[] {
  const img = new Float32Array(49);
  drawShape(img, 7, 7, { x: 0, y: 0, width: 7, height: 7 }, inside, 1);
  const mean = img.reduce((a, b) => a + b, 0) / 49;
  const centred = Array.from(img, (v) => v - mean);
  const norm = Math.sqrt(centred.reduce((a, b) => a + b * b, 0));
  return centred.map((v) => v / norm);
}

/** Adds `amount` × (4×4-supersampled coverage of the shape) inside `box` of a one-channel image. */
export function drawShape(img: Float32Array, h: number, w: number, box: Box, inside: (u: number, v: number) => boolean, amount: number): void {
  for (let y = Math.max(0, Math.floor(box.y)); y < Math.min(h, Math.ceil(box.y + box.height)); y++) {
    for (let x = Math.max(0, Math.floor(box.x)); x < Math.min(w, Math.ceil(box.x + box.width)); x++) {
      let cover = 0;
      for (let sy = 0; sy < 4; sy++) {
        for (let sx = 0; sx < 4; sx++) {
          const u = (x + (sx + 0.5) / 4 - box.x) / box.width, v = (y + (sy + 0.5) / 4 - box.y) / box.height;
          if (u >= 0 && u <= 1 && v >= 0 && v <= 1 && inside(u, v)) cover++;
        }
      }
      img[y * w + x] += (amount * cover) / 16;
    }
  }
}

/**
 * The X detector: 32×32 gray input in [0, 1], preprocessed as x − 0.45 (the background level, so the
 * zero padding of the convolution adds no edge response); layer 'match' = ReLU(conv 7×7 with the X and ring
 * templates − 0.1), then global max pooling and a fixed dense layer to 2 classes, 'X' (0) and 'no X' (1),
 * with logit('X') − logit('no X') = 2·(12·m_X − 6·m_ring − 1.5).
 */
export function xDetector(): { classifier: Classifier; dispose(): void } {
  const filters = tf.tensor4d([template(inX), template(inRing)].flatMap((t, c) => t.map((v, i) => ({ v, i, c })))
    .sort((a, b) => a.i - b.i || a.c - b.c).map((e) => e.v), [7, 7, 1, 2]);
  const dense = tf.tensor2d([[12, -12], [-6, 6]]);
  const bias = tf.tensor1d([-1.5, 1.5]);
  const features = (x: tf.Tensor4D) => tf.relu(tf.sub(tf.conv2d(x, filters, 1, 'same'), 0.1)) as tf.Tensor4D;
  const head = (f: tf.Tensor4D) => tf.add(tf.matMul(tf.max(f, [1, 2]) as tf.Tensor2D, dense), bias) as tf.Tensor2D;
  const classifier = fromFunction((x) => head(features(x)), {
    inputSize: [32, 32], channels: 1, numClasses: 2, classNames: ['X', 'no X'], preprocess: { inputRange: [0, 1], mean: 0.45 },
    layers: { match: { features, head: (f) => head(f) } },
  });
  return { classifier, dispose: () => tf.dispose([filters, dense, bias]) };
}

/** One generated scene. */
export interface Scene { image: tf.Tensor4D; height: number; width: number; objects: Box[]; distractors: Box[] }

function place(r: () => number, h: number, w: number, size: number, taken: Box[]): Box {
  for (let tries = 0; ; tries++) {
    const box = { x: 1 + r() * (w - size - 2), y: 1 + r() * (h - size - 2), width: size, height: size };
    const clear = taken.every((t) => box.x > t.x + t.width + 3 || t.x > box.x + box.width + 3 || box.y > t.y + t.height + 3 || t.y > box.y + box.height + 3);
    if (clear || tries > 200) return box;
  }
}

/**
 * A seeded scene: textured gray background (smooth waves + pixel noise), shorter side 96–128 px,
 * aspect 3:4…4:3 either way; one large X (10–16 px), one small X (6–9 px) and three ring distractors
 * (6–22 px), all 0.45 brighter than the background, not touching. Every object covers < 1/4 of the
 * image (SESS's 'difficult' subset); at the model's 32×32 view of the whole image the Xs shrink to 2–5 px.
 */
export function scene(seed: number, sizes?: { large: number; small: number }): Scene {
  const r = rng(seed);
  const short = 96 + Math.floor(r() * 33);
  const long = Math.floor(short * (1 + r() / 3));
  const [h, w] = r() < 0.5 ? [short, long] : [long, short];
  const img = new Float32Array(h * w);
  // Smooth background: a sum of a few random sinusoids, plus pixel noise.
  const waves = Array.from({ length: 4 }, () => [r() * 0.3, r() * 0.3, r() * 6.28, 0.03 + r() * 0.04]);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    img[y * w + x] = 0.45 + waves.reduce((a, [fx, fy, ph, amp]) => a + amp * Math.sin(fx * x + fy * y + ph), 0) + 0.04 * (r() - 0.5);
  }
  const large = sizes?.large ?? 10 + r() * 6;
  const small = sizes?.small ?? 6 + r() * 3;
  const objects: Box[] = [];
  objects.push(place(r, h, w, large, objects));
  objects.push(place(r, h, w, small, objects));
  const distractors: Box[] = [];
  for (let i = 0; i < 3; i++) distractors.push(place(r, h, w, 6 + r() * 16, [...objects, ...distractors]));
  for (const b of objects) drawShape(img, h, w, b, inX, 0.45);
  for (const b of distractors) drawShape(img, h, w, b, inRing, 0.45);
  return { image: tf.tensor4d(img.map((v) => Math.min(1, Math.max(0, v))), [1, h, w, 1]), height: h, width: w, objects, distractors };
}

/** Pointing game: is the map's maximum within `tolerance` pixels of one of the boxes? */
export function pointingHit(map: Float32Array | Int32Array | Uint8Array, w: number, boxes: Box[], tolerance: number): boolean {
  let best = 0;
  for (let i = 1; i < map.length; i++) if (map[i] > map[best]) best = i;
  const px = (best % w) + 0.5, py = Math.floor(best / w) + 0.5;
  return boxes.some((b) => {
    const dx = Math.max(b.x - px, 0, px - (b.x + b.width));
    const dy = Math.max(b.y - py, 0, py - (b.y + b.height));
    return Math.hypot(dx, dy) <= tolerance;
  });
}

/**
 * Whether the map peaks on `box`: its maximum inside the box is higher than everywhere in the ring
 * around it (the box grown by its own size on every side, minus the box, minus the other boxes).
 */
export function peaksOn(map: ArrayLike<number>, h: number, w: number, box: Box, others: Box[]): boolean {
  const inBox = (x: number, y: number, b: Box, m = 0) => x + 0.5 >= b.x - m && x + 0.5 <= b.x + b.width + m && y + 0.5 >= b.y - m && y + 0.5 <= b.y + b.height + m;
  let inside = -Infinity, ring = -Infinity;
  const m = Math.max(box.width, box.height);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const v = map[y * w + x];
    if (inBox(x, y, box)) inside = Math.max(inside, v);
    else if (inBox(x, y, box, m) && !others.some((o) => inBox(x, y, o))) ring = Math.max(ring, v);
  }
  return inside > ring;
}
