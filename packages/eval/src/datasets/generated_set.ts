/*
 * A generated localisation set with exact boxes: MNIST digits pasted into
 * plausible small "photos" at seeded positions and scales, with several
 * occurrences of the target class and distractors of other classes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '@saliency/core/base';
import type { Box } from '@saliency/metrics';
import { mnistDigit, mnistSplitRange, type DigitSplit } from './mnist_digits.js';
import { mixSeeds, seededRandom, type RandomStream } from './random.js';
import { brightColour, pastePatch, renderBackground, resampleDigit, type DigitPatch, type Rgb } from './render.js';

/** One pasted digit. */
export interface GeneratedObject {
  /** Its class: the digit, 0–9. */
  label: number;
  /**
   * Tight box around its ink, in whole pixels (`@saliency/metrics`' convention: columns
   * `x … x + width − 1`, rows `y … y + height − 1`): every pixel the digit changed lies inside,
   * and every border row and column holds ink.
   */
  box: Box;
  /** Index of the MNIST image of digit `label` it was drawn from (`mnist[label].get(source)`). */
  source: number;
  /** Its colour, RGB 0–255 (largest channel ≥ 216). */
  colour: Rgb;
}

/** One generated image with its ground truth. */
export interface GeneratedSample {
  /** `<split>-<seed>-<index>`, unique within a seed and split. */
  id: string;
  /** Image width, pixels. */
  width: number;
  /** Image height, pixels. */
  height: number;
  /** RGB interleaved, 0–255, `height × width × 3`. */
  pixels: Uint8Array;
  /** The target class (0–9). */
  label: number;
  /** Every occurrence of the target class (1–3). */
  boxes: GeneratedObject[];
  /** Objects of other classes (0–2). */
  distractors: GeneratedObject[];
  /** design.md's "difficult": every target box covers < 1/4 of the image, or a distractor is present. */
  difficult: boolean;
}

/** Options of {@link generateLocalisationSet}. */
export interface GeneratedSetOptions {
  /** Seed: same seed, split and options → byte-identical samples. */
  seed: number;
  /** Number of samples (≥ 0). */
  count: number;
  /** Which MNIST images the digits come from: `'train'` (first 80 % of each digit) or `'test'` (the rest). */
  split: DigitSplit;
  /** `[height, width]` of every image (default `[224, 224]`; each ≥ 32). */
  size?: readonly [number, number];
  /** Index of the first sample (default 0): sample `i` depends only on (seed, split, i, options), so sets can be made in chunks. */
  first?: number;
  /** Digit ink height as a fraction of the shorter image side, `[min, max]`, drawn log-uniformly (default `[0.15, 0.6]`). */
  scale?: readonly [number, number];
  /** The same for an image holding a single object (one target, no distractor), so that some are not "difficult" (default `[0.15, 0.9]`). */
  loneScale?: readonly [number, number];
  /** Weights of 1, 2, 3 … occurrences of the target (default `[0.5, 0.3, 0.2]`). */
  targetWeights?: readonly number[];
  /** Weights of 0, 1, 2 … distractors (default `[0.5, 0.3, 0.2]`). */
  distractorWeights?: readonly number[];
  /** Largest IoU allowed between two objects' boxes (default 0.1). */
  maxIoU?: number;
  /** `'noise'` (default): a smooth, noisy dark colour field; `'black'`: all zeros (same objects, same places — for checking ink against pixels). */
  background?: 'noise' | 'black';
}

const SPLIT_CODE: Record<DigitSplit, number> = { train: 1, test: 2 };
const MAX_ROTATION = 0.2; // radians, ±11.5°
const TRIES = 60;

function checkRange(v: readonly [number, number] | undefined, name: string, fallback: readonly [number, number]): readonly [number, number] {
  if (v == null) return fallback;
  if (v.length !== 2 || !(v[0] > 0) || !(v[1] >= v[0]) || !(v[1] <= 1)) {
    throw new SaliencyError('BAD_OPTION', `${name} must be [min, max] with 0 < min ≤ max ≤ 1, got [${v.join(', ')}].`);
  }
  return v;
}

function checkWeights(v: readonly number[] | undefined, name: string): readonly number[] {
  if (v == null) return [0.5, 0.3, 0.2];
  if (v.length === 0 || v.some((w) => !(w >= 0) || !Number.isFinite(w)) || !(v.reduce((a, b) => a + b, 0) > 0)) {
    throw new SaliencyError('BAD_OPTION', `${name} must be non-negative finite weights with a positive sum, got [${v.join(', ')}].`);
  }
  return v;
}

function pick(weights: readonly number[], next: RandomStream): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let u = next() * total;
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i];
    if (u < 0) return i;
  }
  return weights.length - 1;
}

/** IoU of two boxes of positive area (the same as `@saliency/metrics`' `iou`). */
function boxIoU(a: Box, b: Box): number {
  const iw = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const ih = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = iw * ih;
  return inter === 0 ? 0 : inter / (a.width * a.height + b.width * b.height - inter);
}

interface Placed { object: GeneratedObject; patch: DigitPatch; y: number; x: number }

/** Places one digit without overlapping earlier ones; shrinks it after repeated failures; null if it never fits. */
function place(label: number, split: DigitSplit, scale: readonly [number, number], h: number, w: number,
  placed: readonly Placed[], maxIoU: number, next: RandomStream): Placed | null {
  const [start, end] = mnistSplitRange(label, split);
  const source = start + Math.floor(next() * (end - start));
  const digit = mnistDigit(label, source);
  const short = Math.min(h, w);
  let inkHeight = short * scale[0] * Math.pow(scale[1] / scale[0], next());
  const aspect = 0.85 + 0.3 * next();
  const angle = (next() * 2 - 1) * MAX_ROTATION;
  const colour = brightColour(next);
  let patch: DigitPatch | null = null;
  for (let t = 0; t < TRIES; t++) {
    if (patch == null || (t > 0 && t % 15 === 0) || patch.inkHeight > h || patch.inkWidth > w) {
      if (patch != null) inkHeight *= 0.8;
      if (inkHeight < Math.min(8, short * scale[0] * 0.5)) return null;
      patch = resampleDigit(digit, inkHeight, aspect, angle);
      if (patch == null) return null;
      if (patch.inkHeight > h || patch.inkWidth > w) continue;
    }
    const bx = Math.floor(next() * (w - patch.inkWidth + 1));
    const by = Math.floor(next() * (h - patch.inkHeight + 1));
    const box: Box = { x: bx, y: by, width: patch.inkWidth, height: patch.inkHeight };
    if (placed.every((p) => boxIoU(p.object.box, box) < maxIoU)) {
      return { object: { label, box, source, colour }, patch, y: by - patch.top, x: bx - patch.left };
    }
  }
  return null;
}

function generateOne(opts: GeneratedSetOptions, index: number, h: number, w: number, scale: readonly [number, number],
  loneScale: readonly [number, number], targetWeights: readonly number[], distractorWeights: readonly number[], maxIoU: number): GeneratedSample {
  const split = opts.split;
  const layout = seededRandom(mixSeeds(opts.seed, SPLIT_CODE[split], index, 1));
  const label = Math.floor(layout() * 10);
  const nTargets = 1 + pick(targetWeights, layout);
  const nDistractors = pick(distractorWeights, layout);
  const objectScale = nTargets === 1 && nDistractors === 0 ? loneScale : scale;
  const placed: Placed[] = [];
  const boxes: GeneratedObject[] = [];
  const distractors: GeneratedObject[] = [];
  for (let k = 0; k < nTargets + nDistractors; k++) {
    const isTarget = k < nTargets;
    const cls = isTarget ? label : (label + 1 + Math.floor(layout() * 9)) % 10;
    const p = place(cls, split, objectScale, h, w, placed, maxIoU, layout);
    if (p == null) continue;
    placed.push(p);
    (isTarget ? boxes : distractors).push(p.object);
  }
  if (boxes.length === 0) throw new Error(`@saliency/node: could not place the target of sample ${index}; use a larger size.`);
  const image = opts.background === 'black'
    ? new Float32Array(h * w * 3)
    : renderBackground(h, w, seededRandom(mixSeeds(opts.seed, SPLIT_CODE[split], index, 2)));
  for (const p of placed) pastePatch(image, h, w, p.patch, p.y, p.x, p.object.colour);
  const pixels = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) pixels[i] = Math.round(image[i]);
  const quarter = (h * w) / 4;
  const difficult = distractors.length > 0 || boxes.every((o) => o.box.width * o.box.height < quarter);
  return { id: `${split}-${opts.seed}-${index}`, width: w, height: h, pixels, label, boxes, distractors, difficult };
}

/**
 * Generates a localisation set: each image is a dark, smooth, noisy colour
 * field with 1–3 occurrences of a target digit and 0–2 distractor digits of
 * other classes, each in a random bright colour (the digit's intensity is
 * its alpha), scaled (ink height 15–60 % of the shorter side by default),
 * slightly stretched and rotated, at seeded positions whose tight boxes
 * overlap with IoU < `maxIoU`. Deterministic: sample `i` depends only on
 * (seed, split, i, options). Pure JavaScript; the digits come from the
 * installed `mnist` package (the `'train'` and `'test'` splits use disjoint
 * MNIST images).
 *
 * @param opts - seed, count, split and the optional layout settings.
 * @returns `count` samples.
 *
 * @example
 * ```ts
 * const samples = generateLocalisationSet({ seed: 1, count: 50, split: 'test' });
 * const image = sampleToTensor(samples[0]); // [224, 224, 3], 0–255
 * ```
 */
export function generateLocalisationSet(opts: GeneratedSetOptions): GeneratedSample[] {
  if (!Number.isFinite(opts.seed)) throw new SaliencyError('BAD_OPTION', `seed must be a finite number, got ${opts.seed}.`);
  if (!Number.isInteger(opts.count) || opts.count < 0) throw new SaliencyError('BAD_OPTION', `count must be an integer ≥ 0, got ${opts.count}.`);
  if (opts.split !== 'train' && opts.split !== 'test') throw new SaliencyError('BAD_OPTION', `split must be 'train' or 'test', got '${String(opts.split)}'.`);
  const first = opts.first ?? 0;
  if (!Number.isInteger(first) || first < 0) throw new SaliencyError('BAD_OPTION', `first must be an integer ≥ 0, got ${first}.`);
  const [h, w] = opts.size ?? [224, 224];
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 32 || w < 32) {
    throw new SaliencyError('BAD_OPTION', `size must be [height, width], integers ≥ 32, got [${String(opts.size)}].`);
  }
  const scale = checkRange(opts.scale, 'scale', [0.15, 0.6]);
  const loneScale = checkRange(opts.loneScale, 'loneScale', [0.15, 0.9]);
  const targetWeights = checkWeights(opts.targetWeights, 'targetWeights');
  const distractorWeights = checkWeights(opts.distractorWeights, 'distractorWeights');
  const maxIoU = opts.maxIoU ?? 0.1;
  if (!(maxIoU > 0 && maxIoU <= 1)) throw new SaliencyError('BAD_OPTION', `maxIoU must be in (0, 1], got ${maxIoU}.`);
  if (opts.background != null && opts.background !== 'noise' && opts.background !== 'black') {
    throw new SaliencyError('BAD_OPTION', `background must be 'noise' or 'black', got '${String(opts.background)}'.`);
  }
  return Array.from({ length: opts.count }, (_, i) =>
    generateOne(opts, first + i, h, w, scale, loneScale, targetWeights, distractorWeights, maxIoU));
}

/**
 * A sample's pixels as a float32 tensor `[height, width, 3]` in 0–255 (what
 * the classifiers of `@saliency/node` take). The caller disposes it.
 *
 * @param s - a generated sample.
 * @returns the image tensor.
 *
 * @example
 * ```ts
 * const x = sampleToTensor(sample);
 * const maps = await explain(gradCam(), classifier, x, { target: sample.label });
 * x.dispose();
 * ```
 */
export function sampleToTensor(s: GeneratedSample): tf.Tensor3D {
  return tf.tensor3d(Float32Array.from(s.pixels), [s.height, s.width, 3], 'float32');
}
