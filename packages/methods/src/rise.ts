import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, checkPositiveInt, minMaxNormalize, mulberry32, resolveTargets, throwIfAborted,
  SaliencyError, type Classifier, type LongRunningOptions, type SaliencyMethod, type Targets, yieldToEventLoop } from '@saliency/core/base';
import { blendWithMasks, checkSubstrateOption, substrateColour } from './substrate.js';

/** Mask settings of RISE: how many masks, how coarse, how dense. */
export interface RiseMaskSettings {
  /** Number of masks N. */
  n: number;
  /** Grid side s: each mask starts as an s×s binary grid. */
  s: number;
  /** Probability p that a grid cell is kept (1). */
  p: number;
}

/**
 * Named RISE settings.
 *
 * - `default`: N = 4000, s = 7, p = 0.5 — this library's default (design.md §3).
 * - `paper`: N = 8000, s = 7, p = 0.5 — the setting design.md §3 records as
 *   published for RISE (Petsiuk, Das & Saenko, BMVC 2018) on ImageNet models.
 * - `sparse`: N = 6000, s = 8, p = 0.1 — the setting of the authors' released
 *   PyTorch example (`eclique/RISE`, `Saliency.py`: `generate_masks(N=6000, s=8, p1=0.1)`),
 *   also recorded in design.md §3.
 *
 * @example
 * ```ts
 * const maps = await rise({ ...RISE_PRESETS.paper, seed: 1 }).explain(classifier, images, 'top');
 * ```
 */
export const RISE_PRESETS: Readonly<Record<'default' | 'paper' | 'sparse', Readonly<RiseMaskSettings>>> = Object.freeze({
  default: Object.freeze({ n: 4000, s: 7, p: 0.5 }),
  paper: Object.freeze({ n: 8000, s: 7, p: 0.5 }),
  sparse: Object.freeze({ n: 6000, s: 8, p: 0.1 }),
});

/** Options of {@link rise}. */
export interface RiseOptions extends LongRunningOptions, Partial<RiseMaskSettings> {
  /** Masked images per forward pass (default 32); peak memory is bounded by it, never by `n`. */
  batchSize?: number;
  /** Seed of the masks (a 32-bit integer). Same seed → same masks → same map. Default: a random seed per call. */
  seed?: number;
  /**
   * What masked-out pixels become. `'model-zero'` (default): zero in the
   * model's preprocessed space — RISE's authors multiply the NORMALISED input
   * by the mask — i.e. the colour the classifier's preprocessing maps to 0
   * (the mean colour for mean/std preprocessing, black for `x / 255`).
   * A number or one number per channel: that colour in the user's pixel range
   * (`0` = black in the user's space).
   */
  substrate?: 'model-zero' | number | readonly number[];
}

/** Options of {@link riseMasks}: the mask settings and the seed. */
export interface RiseMaskOptions {
  /** Grid side s (default 7). */
  s?: number;
  /** Keep probability p (default 0.5). */
  p?: number;
  /** Seed (default 0). */
  seed?: number;
}

/** One mask's random draws, as {@link riseMaskSpec} returns them. */
export interface RiseMaskSpec {
  /** The binary s×s grid, row-major (1 = keep). */
  grid: Float32Array;
  /** Shift in rows, in [0, ceil(H/s)). */
  dy: number;
  /** Shift in columns, in [0, ceil(W/s)). */
  dx: number;
}

function checkMaskSettings(s: number, p: number, fn: string): void {
  checkPositiveInt(s, `${fn}: s`);
  if (!(typeof p === 'number' && p > 0 && p <= 1)) {
    throw new SaliencyError('BAD_OPTION', `${fn}: p (the keep probability) must be in (0, 1], got ${String(p)}.`);
  }
}

function checkSeed(seed: number, fn: string): number {
  if (!Number.isInteger(seed)) throw new SaliencyError('BAD_OPTION', `${fn}: seed must be an integer, got ${String(seed)}.`);
  return seed >>> 0;
}

/** 32-bit integer hash of (seed, index): a counter-based seed for mask `index`. */
function hash32(seed: number, index: number): number {
  let h = (Math.imul(seed ^ 0x85ebca6b, 0x9e3779b1) ^ Math.imul((index + 0x632be59b) >>> 0, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}


/**
 * The random draws of RISE mask number `index` for images of `size`: an s×s
 * grid of Bernoulli(p) cells and a shift (dy, dx) with dy uniform in
 * [0, ceil(H/s)) and dx uniform in [0, ceil(W/s)). They depend only on
 * (seed, index, s, p, size) — not on the batch the mask falls in — so the same
 * seed gives the same masks at any `batchSize`.
 *
 * @param size - `[H, W]` of the images.
 * @param index - the mask's number, 0-based.
 * @param opts - see {@link RiseMaskOptions}.
 * @throws SaliencyError `BAD_OPTION`.
 *
 * @example
 * ```ts
 * const { grid, dy, dx } = riseMaskSpec([224, 224], 0, { s: 7, p: 0.5, seed: 1 });
 * ```
 */
export function riseMaskSpec(size: readonly [number, number], index: number, opts: RiseMaskOptions = {}): RiseMaskSpec {
  const s = opts.s ?? 7;
  const p = opts.p ?? 0.5;
  checkMaskSettings(s, p, 'riseMaskSpec');
  const seed = checkSeed(opts.seed ?? 0, 'riseMaskSpec');
  const [h, w] = checkSize(size, 'riseMaskSpec');
  if (!Number.isInteger(index) || index < 0) throw new SaliencyError('BAD_OPTION', `riseMaskSpec: index must be a non-negative integer, got ${index}.`);
  const r = mulberry32(hash32(seed, index));
  const grid = new Float32Array(s * s);
  for (let i = 0; i < s * s; i++) grid[i] = r() < p ? 1 : 0;
  const dy = Math.floor(r() * Math.ceil(h / s));
  const dx = Math.floor(r() * Math.ceil(w / s));
  return { grid, dy, dx };
}

function checkSize(size: readonly [number, number], fn: string): [number, number] {
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new SaliencyError('BAD_OPTION', `${fn}: size must be [height, width] of positive integers, got ${JSON.stringify(size)}.`);
  }
  return [size[0], size[1]];
}

/** Index into [0, n) reflected about the edge samples without repeating them (scipy.ndimage 'mirror'). */
function mirror(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

/**
 * The `[out, n]` matrix of a linear interpolation from `n` samples to `out`,
 * half-pixel centres (source coordinate `(j + 0.5)·n/out − 0.5`) and mirror
 * boundary: exactly `skimage.transform.resize(order=1, mode='reflect',
 * anti_aliasing=False)`, which RISE's authors use.
 */
function interpolationMatrix(n: number, out: number): Float32Array {
  const m = new Float32Array(out * n);
  for (let j = 0; j < out; j++) {
    const src = ((j + 0.5) * n) / out - 0.5;
    const i0 = Math.floor(src);
    const t = src - i0;
    m[j * n + mirror(i0, n)] += 1 - t;
    m[j * n + mirror(i0 + 1, n)] += t;
  }
  return m;
}

/**
 * Builds RISE masks `[start, start + count)` on the backend, from their
 * {@link riseMaskSpec} draws: each s×s grid is up-sampled bilinearly to
 * `(s + 1)·cell` (cell = `ceil(H/s)` rows, `ceil(W/s)` columns; half-pixel
 * centres, mirror boundary, as `skimage.transform.resize(order=1, mode='reflect')`),
 * then cropped to H×W at offset (dy, dx) — exactly, with integer shifts. The
 * up-sampling and crop are one batched product `R_y[dy:dy+H] · G · R_x[dx:dx+W]ᵀ`
 * of gathered rows of the interpolation matrices; only the grids (count·s²
 * numbers) and shifts are uploaded. Values are in [0, 1].
 *
 * @param size - `[H, W]`.
 * @param start - number of the first mask.
 * @param count - how many masks.
 * @param opts - see {@link RiseMaskOptions}.
 * @returns float32 `[count, H, W]`.
 * @throws SaliencyError `BAD_OPTION`.
 *
 * @example
 * ```ts
 * const masks = riseMasks([224, 224], 0, 32, { s: 7, p: 0.5, seed: 1 }); // the first batch of 32
 * ```
 */
export function riseMasks(size: readonly [number, number], start: number, count: number, opts: RiseMaskOptions = {}): tf.Tensor3D {
  const [h, w] = checkSize(size, 'riseMasks');
  const s = opts.s ?? 7;
  checkMaskSettings(s, opts.p ?? 0.5, 'riseMasks');
  if (!Number.isInteger(start) || start < 0) throw new SaliencyError('BAD_OPTION', `riseMasks: start must be a non-negative integer, got ${start}.`);
  checkPositiveInt(count, 'riseMasks: count');
  const tables = riseTables(h, w, s);
  try {
    return riseMasksWith(tables, [h, w], start, count, opts);
  } finally {
    tables.ry.dispose();
    tables.rx.dispose();
  }
}

interface RiseTables {
  ry: tf.Tensor2D;
  rx: tf.Tensor2D;
}

function riseTables(h: number, w: number, s: number): RiseTables {
  const upH = (s + 1) * Math.ceil(h / s);
  const upW = (s + 1) * Math.ceil(w / s);
  return {
    ry: tf.tensor2d(interpolationMatrix(s, upH), [upH, s]),
    rx: tf.tensor2d(interpolationMatrix(s, upW), [upW, s]),
  };
}

function riseMasksWith(tables: RiseTables, size: [number, number], start: number, count: number, opts: RiseMaskOptions): tf.Tensor3D {
  const [h, w] = size;
  const s = opts.s ?? 7;
  const grids = new Float32Array(count * s * s);
  const rows = new Int32Array(count * h);
  const cols = new Int32Array(count * w);
  for (let i = 0; i < count; i++) {
    const spec = riseMaskSpec(size, start + i, opts);
    grids.set(spec.grid, i * s * s);
    for (let r = 0; r < h; r++) rows[i * h + r] = spec.dy + r;
    for (let c = 0; c < w; c++) cols[i * w + c] = spec.dx + c;
  }
  return tf.tidy(() => {
    const g = tf.tensor3d(grids, [count, s, s]);
    const ry = tf.reshape(tf.gather(tables.ry, tf.tensor1d(rows, 'int32')), [count, h, s]) as tf.Tensor3D;
    const rx = tf.reshape(tf.gather(tables.rx, tf.tensor1d(cols, 'int32')), [count, w, s]) as tf.Tensor3D;
    return tf.clipByValue(tf.matMul(tf.matMul(ry, g), rx, false, true), 0, 1) as tf.Tensor3D;
  });
}

/**
 * RISE (Petsiuk, Das & Saenko 2018): the saliency of a pixel is the expected
 * target probability over random masks that keep it,
 * `map = Σ_i p_c(x⊙M_i)·M_i / (N·p)`, then min-max normalised per image.
 *
 * - Masks: {@link riseMasks} (s×s Bernoulli(p) grid, bilinear up-sampling to
 *   (s+1)·cell, random shift in [0, cell), crop), generated on the backend PER
 *   BATCH of `batchSize` — never all N at once — so peak memory is bounded by
 *   `batchSize`, not by N. The same N masks are used for every image of a call.
 * - `x⊙M` is taken in the MODEL'S PREPROCESSED SPACE by default (substrate
 *   `'model-zero'`, as the authors' code multiplies the normalised tensor);
 *   see {@link RiseOptions.substrate}.
 * - p_c is the softmax probability of the target class. The weighted sum is
 *   accumulated on the device; nothing is read back inside the loop.
 * - Defaults N = 4000, s = 7, p = 0.5; see {@link RISE_PRESETS}.
 * - `onProgress` after every forward pass (`done`/`total` in masked images,
 *   phase `'rise'`); `signal` is checked before every forward pass.
 *
 * @throws SaliencyError `BAD_OPTION` for bad options (at once); `ABORTED`, and
 *   the image/target codes, from `explain`.
 *
 * @example
 * ```ts
 * const maps = await rise({ n: 2000, seed: 7, onProgress: (p) => console.log(p.done, p.total) })
 *   .explain(classifier, images, 'top');
 * ```
 */
export function rise(opts: RiseOptions = {}): SaliencyMethod {
  const n = checkPositiveInt(opts.n ?? RISE_PRESETS.default.n, 'rise: n');
  const s = opts.s ?? RISE_PRESETS.default.s;
  const p = opts.p ?? RISE_PRESETS.default.p;
  checkMaskSettings(s, p, 'rise');
  const batchSize = checkPositiveInt(opts.batchSize ?? 32, 'rise: batchSize');
  const fixedSeed = opts.seed == null ? null : checkSeed(opts.seed, 'rise');
  const substrate = checkSubstrateOption(opts.substrate ?? 'model-zero', 'rise');
  return {
    name: 'rise',
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      await checkImages(images, classifier, classifier.inputSize);
      const classes = await resolveTargets(classifier, images, targets, batchSize);
      const colour = await substrateColour(classifier, substrate, 'rise');
      const seed = fixedSeed ?? Math.floor(Math.random() * 4294967296);
      const [count, h, w, c] = images.shape;
      const total = n * count;
      const tables = riseTables(h, w, s);
      const acc: tf.Tensor2D[] = [];
      try {
        for (let i = 0; i < count; i++) acc.push(tf.zeros([1, h * w]));
        let done = 0;
        for (let start = 0; start < n; start += batchSize) {
          const size = Math.min(batchSize, n - start);
          throwIfAborted(opts.signal);
          const masks = riseMasksWith(tables, [h, w], start, size, { s, p, seed });
          try {
            for (let i = 0; i < count; i++) {
              throwIfAborted(opts.signal);
              const next = tf.tidy(() => {
                const xi = tf.slice(images, [i, 0, 0, 0], [1, h, w, c]);
                const masked = blendWithMasks(xi, masks, colour);
                const pc = tf.slice(classifier.probabilities(masked), [0, classes[i]], [size, 1]); // [size, 1]
                return tf.add(acc[i], tf.matMul(pc, tf.reshape(masks, [size, h * w]), true, false)) as tf.Tensor2D;
              });
              acc[i].dispose();
              acc[i] = next;
              done += size;
              opts.onProgress?.({ done, total, phase: 'rise' });
            }
          } finally {
            masks.dispose();
          }
          if (start + size < n) await yieldToEventLoop();
        }
        return tf.tidy(() => minMaxNormalize(tf.reshape(tf.div(tf.concat(acc, 0), n * p), [count, h, w]) as tf.Tensor3D));
      } finally {
        tf.dispose(acc);
        tables.ry.dispose();
        tables.rx.dispose();
      }
    },
  };
}
