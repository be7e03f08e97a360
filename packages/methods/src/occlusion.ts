import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, checkPositiveInt, gaussianBlur, minMaxNormalize, resolveTargets, SaliencyError, throwIfAborted, yieldToEventLoop,
  type Classifier, type GaussianBlurOptions, type LongRunningOptions, type SaliencyMethod, type Targets,
} from '@saliency/core/base';

/**
 * What occluded pixels become: `'zero'` (0 in the user's pixel range), `'mean'` (the image's
 * mean colour), `'blur'` (the image under a Gaussian blur, {@link OcclusionOptions.blur}), or
 * one number (that grey level in the user's pixel range).
 */
export type OcclusionSubstrate = 'zero' | 'mean' | 'blur' | number;

/** Options of {@link occlusion}. */
export interface OcclusionOptions extends LongRunningOptions {
  /** Side of the square patch in pixels, or `[height, width]` (default: round(min(H, W) / 8), 14 px at 112²). */
  patch?: number | readonly [number, number];
  /** Step between patches in pixels, or `[dy, dx]` (default: half the patch, at least 1). */
  stride?: number | readonly [number, number];
  /** What the patch is filled with (default `'zero'`). */
  substrate?: OcclusionSubstrate;
  /** Blur of the `'blur'` substrate (default kernel 51, σ 50). */
  blur?: GaussianBlurOptions;
  /** Score whose drop is measured: `'probability'` (default, Zeiler & Fergus) or `'logit'`. */
  score?: 'probability' | 'logit';
  /** Occluded images per forward pass (default 32); memory is bounded by it, not by the patch count. */
  batchSize?: number;
}

/** Start offsets of the patches along one axis: every `stride` from 0, the last snapped to the edge. */
export function patchStarts(size: number, patch: number, stride: number): number[] {
  if (patch >= size) return [0];
  const out: number[] = [];
  for (let s = 0; s + patch <= size; s += stride) out.push(s);
  if (out[out.length - 1] !== size - patch) out.push(size - patch);
  return out;
}

function pair(v: number | readonly [number, number], name: string): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  checkPositiveInt(p[0], `occlusion: ${name}`);
  checkPositiveInt(p[1], `occlusion: ${name}`);
  return p;
}

/**
 * Occlusion (Zeiler & Fergus, ECCV 2014): a patch slides over the image with a stride; each
 * occluded image (patch filled with the substrate) is scored, and every pixel gets the mean drop
 * of the target's score, S_c(x) − S_c(x with the patch), over the patches that cover it (as
 * Captum's `Occlusion`); min-max normalised per image (the largest drop → 1). The last patch of
 * each row and column is snapped to the image edge so every pixel is covered. The occluded
 * images are made on the device and scored `batchSize` per forward pass: ⌈P / batchSize⌉ + 1
 * passes per image for P patch positions (225 at the default 1/8-patch, half-patch stride).
 * `onProgress` counts occluded images (phase `'occlusion'`), `signal` is checked before every
 * pass, and the call yields to the event loop between passes.
 *
 * @throws SaliencyError `BAD_OPTION` (at once); `ABORTED` and the image/target codes from `explain`.
 *
 * @example
 * ```ts
 * const maps = await occlusion({ patch: 16, stride: 8, substrate: 'blur' }).explain(classifier, images, 'top');
 * ```
 */
export function occlusion(opts: OcclusionOptions = {}): SaliencyMethod {
  const batchSize = checkPositiveInt(opts.batchSize ?? 32, 'occlusion: batchSize');
  const substrate = opts.substrate ?? 'zero';
  if (!(['zero', 'mean', 'blur'].includes(substrate as string) || (typeof substrate === 'number' && Number.isFinite(substrate)))) {
    throw new SaliencyError('BAD_OPTION', `occlusion: substrate must be 'zero', 'mean', 'blur' or a finite number; got ${JSON.stringify(substrate)}.`);
  }
  const score = opts.score ?? 'probability';
  if (score !== 'probability' && score !== 'logit') throw new SaliencyError('BAD_OPTION', `occlusion: score must be 'probability' or 'logit'; got ${JSON.stringify(score)}.`);
  const patchOpt = opts.patch == null ? null : pair(opts.patch, 'patch');
  const strideOpt = opts.stride == null ? null : pair(opts.stride, 'stride');
  const blur = opts.blur ?? { kernelSize: 51, sigma: 50 };
  return {
    name: 'occlusion',
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      await checkImages(images, classifier, classifier.inputSize);
      const classes = await resolveTargets(classifier, images, targets, batchSize);
      const [n, h, w, c] = images.shape;
      const side = Math.max(1, Math.round(Math.min(h, w) / 8));
      const [ph, pw] = patchOpt ?? [side, side];
      const [sy, sx] = strideOpt ?? [Math.max(1, Math.round(ph / 2)), Math.max(1, Math.round(pw / 2))];
      const ys = patchStarts(h, Math.min(ph, h), sy);
      const xs = patchStarts(w, Math.min(pw, w), sx);
      const windows = ys.flatMap((y) => xs.map((x) => [y, x] as const));
      const hh = Math.min(ph, h), ww = Math.min(pw, w);
      const coverage = new Float32Array(h * w);
      for (const [y, x] of windows) for (let r = y; r < y + hh; r++) for (let q = x; q < x + ww; q++) coverage[r * w + q] += 1;
      const scoreOf = (batch: tf.Tensor4D) => (score === 'logit' ? classifier.logits(batch) : classifier.probabilities(batch));
      const total = n * windows.length;
      const maps: tf.Tensor3D[] = [];
      let done = 0;
      try {
        for (let i = 0; i < n; i++) {
          const cls = classes[i] as number;
          const held: tf.Tensor[] = [];
          let acc: tf.Tensor2D | null = null;
          try {
            const xi = tf.tidy(() => tf.cast(tf.slice(images, [i, 0, 0, 0], [1, h, w, c]), 'float32') as tf.Tensor4D);
            held.push(xi);
            const sub = tf.tidy(() => (substrate === 'zero' ? tf.zerosLike(xi)
              : substrate === 'mean' ? tf.mul(tf.onesLike(xi), tf.mean(xi, [1, 2], true))
                : substrate === 'blur' ? gaussianBlur(xi, blur)
                  : tf.fill(xi.shape, substrate as number)) as tf.Tensor4D);
            held.push(sub);
            const s0 = tf.tidy(() => tf.reshape(tf.slice(scoreOf(xi), [0, cls], [1, 1]), [1]));
            held.push(s0);
            for (let start = 0; start < windows.length; start += batchSize) {
              throwIfAborted(opts.signal);
              const part = windows.slice(start, start + batchSize);
              const size = part.length;
              const rows = new Float32Array(size * h), cols = new Float32Array(size * w);
              part.forEach(([y, x], j) => {
                for (let r = y; r < y + hh; r++) rows[j * h + r] = 1;
                for (let q = x; q < x + ww; q++) cols[j * w + q] = 1;
              });
              const prev: tf.Tensor2D | null = acc;
              acc = tf.tidy(() => {
                const m = tf.mul(tf.tensor3d(rows, [size, h, 1]), tf.tensor3d(cols, [size, 1, w])); // [size, H, W], 1 inside the patch
                const m4 = tf.expandDims(m, 3);
                const occluded = tf.add(xi, tf.mul(tf.sub(sub, xi), m4)) as tf.Tensor4D;
                const drop = tf.sub(s0, tf.reshape(tf.slice(scoreOf(occluded), [0, cls], [size, 1]), [size]));
                const sum = tf.sum(tf.mul(m, tf.reshape(drop, [size, 1, 1])), 0) as tf.Tensor2D;
                return prev == null ? sum : (tf.add(prev, sum) as tf.Tensor2D);
              });
              prev?.dispose();
              done += size;
              opts.onProgress?.({ done, total, phase: 'occlusion' });
              await yieldToEventLoop();
            }
            const sum = acc as tf.Tensor2D;
            maps.push(tf.tidy(() => minMaxNormalize(tf.expandDims(tf.div(sum, tf.tensor2d(coverage, [h, w])), 0) as tf.Tensor3D)));
          } finally {
            tf.dispose([...held, ...(acc == null ? [] : [acc])]);
          }
        }
        return maps.length === 1 ? (maps.pop() as tf.Tensor3D) : (tf.concat(maps, 0) as tf.Tensor3D);
      } finally {
        tf.dispose(maps);
      }
    },
  };
}
