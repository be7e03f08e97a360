// Shared pieces of the SESS tests: small classifiers, counting wrappers and an UNBATCHED reference SESS.
import * as tf from '@tensorflow/tfjs-core';
import { blurMaps, fromFunction, type Classifier, type SaliencyMethod, type Targets } from '@saliency/core/base';
import { seeded } from '../setup_cpu';

/**
 * A small seeded conv net as a function classifier: 16×16×3 input in [0, 1],
 * conv 3×3 ×6 + ReLU = layer 'feat', then global average pooling and a dense layer to 3 classes.
 */
export function tinyClassifier(size = 16): { classifier: Classifier; dispose(): void } {
  const k = seeded([3, 3, 3, 6], 101, -1, 1) as tf.Tensor4D;
  const b = seeded([6], 102, -0.3, 0.3) as tf.Tensor1D;
  const wd = seeded([6, 3], 103, -2, 2) as tf.Tensor2D;
  const features = (x: tf.Tensor4D) => tf.relu(tf.add(tf.conv2d(x, k, 1, 'same'), b)) as tf.Tensor4D;
  const head = (f: tf.Tensor4D) => tf.matMul(tf.mean(f, [1, 2]) as tf.Tensor2D, wd) as tf.Tensor2D;
  const classifier = fromFunction((x) => head(features(x)), {
    inputSize: [size, size], channels: 3, numClasses: 3, preprocess: { inputRange: [0, 1] },
    layers: { feat: { features, head: (f) => head(f) } },
  });
  return { classifier, dispose: () => tf.dispose([k, b, wd]) };
}

/** What a {@link countingMethod} saw. */
export interface MethodCalls {
  /** Batch size of each `explain` call. */
  sizes: number[];
  /** Per image received: the sum of its pixels (a fingerprint) and the target. */
  images: { sum: number; target: number; shape: number[] }[];
}

/** Wraps a method and records every `explain` call (reads data back: test-only). */
export function countingMethod(base: SaliencyMethod, failOnCall?: number): { method: SaliencyMethod; calls: MethodCalls } {
  const calls: MethodCalls = { sizes: [], images: [] };
  return {
    calls,
    method: {
      name: `counting(${base.name})`,
      async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets) {
        calls.sizes.push(images.shape[0]);
        if (failOnCall === calls.sizes.length) throw new Error(`planned failure on call ${failOnCall}`);
        const sums = tf.tidy(() => tf.sum(images, [1, 2, 3]).dataSync());
        const t = Array.isArray(targets) ? targets : [];
        Array.from(sums).forEach((sum, i) => calls.images.push({ sum, target: t[i] ?? -1, shape: images.shape.slice(1) }));
        return base.explain(classifier, images, targets);
      },
    },
  };
}

/** Counts of a {@link countingClassifier}. */
export interface ClassifierCalls {
  /** Batch sizes of `probabilities` calls. */
  probabilities: number[];
  /** Batch sizes of `logits` calls. */
  logits: number[];
  /** Batch sizes of layer `features` calls (forward passes of CAM methods). */
  features: number[];
  /** Batch sizes of layer `head` calls (inside the gradient: one per backward pass). */
  head: number[];
}

/** Wraps a classifier and counts its forward entry points. */
export function countingClassifier(c: Classifier): { classifier: Classifier; calls: ClassifierCalls } {
  const calls: ClassifierCalls = { probabilities: [], logits: [], features: [], head: [] };
  return {
    calls,
    classifier: {
      ...c,
      preprocess: (x) => c.preprocess(x),
      layerNames: () => c.layerNames(),
      logits: (x) => { calls.logits.push(x.shape[0]); return c.logits(x); },
      probabilities: (x) => { calls.probabilities.push(x.shape[0]); return c.probabilities(x); },
      at: (layer) => {
        const a = c.at(layer);
        return {
          name: a.name,
          features: (x) => { calls.features.push(x.shape[0]); return a.features(x); },
          head: (f, x) => { calls.head.push(f.shape[0]); return a.head(f, x); },
        };
      },
    },
  };
}

/** The reference's `sliding_window` starts along one axis (steps ≤ window). */
function starts(length: number, win: number, step: number): number[] {
  const out: number[] = [];
  for (let x = 0; x < length; x += step) {
    if (length <= x + win) { out.push(length - win); break; }
    out.push(x);
  }
  return out;
}

/** Options of {@link referenceSess}. */
export interface ReferenceOptions {
  scales: number[];
  window: number;
  step?: number;
  ratio?: number;
  theta?: number;
  pool?: 'mean' | 'max';
  smooth?: boolean;
  target?: number;
}

/**
 * SESS written as the reference does it, ONE PATCH AT A TIME, with JS arrays for the
 * bookkeeping: per-patch canvases resized to the image size, pooled in JS.
 * `image` is `[1, H, W, C]`; returns `[H, W]` values.
 */
export async function referenceSess(method: SaliencyMethod, classifier: Classifier, image: tf.Tensor4D, o: ReferenceOptions): Promise<Float32Array> {
  const [, H, W] = image.shape;
  const [ih, iw] = classifier.inputSize;
  const k = o.window;
  const target = o.target ?? tf.tidy(() => tf.argMax(classifier.logits(tf.image.resizeBilinear(image, [ih, iw], false, true)), 1).dataSync()[0]);
  const patches: { sh: number; sw: number; y: number; x: number }[] = [];
  for (const s of o.scales) {
    const [sh, sw] = H <= W ? [s, Math.trunc((s * W) / H)] : [Math.trunc((s * H) / W), s];
    for (const y of starts(sh, k, o.step ?? k)) for (const x of starts(sw, k, o.step ?? k)) patches.push({ sh, sw, y, x });
  }
  const input = (p: (typeof patches)[number]) => tf.tidy(() => {
    const scaled = p.sh === H && p.sw === W ? image : tf.image.resizeBilinear(image, [p.sh, p.sw], false, true);
    const crop = tf.slice(scaled, [0, p.y, p.x, 0], [1, k, k, -1]) as tf.Tensor4D;
    return k === ih && k === iw ? crop : tf.image.resizeBilinear(crop, [ih, iw], false, true);
  });
  const probs = patches.map((p) => tf.tidy(() => classifier.probabilities(input(p)).dataSync()[target]));
  const order = probs.map((_, i) => i).sort((a, b) => probs[a] - probs[b] || a - b);
  const kept = order.slice(Math.trunc(patches.length * (o.ratio ?? 0)));
  const maxP = Math.max(...kept.map((i) => probs[i]));
  const canvases: Float32Array[] = [];
  for (const i of kept) {
    const p = patches[i];
    const x = input(p);
    const map = await method.explain(classifier, x, [target]);
    const m = tf.tidy(() => (map.shape[1] === k ? map : tf.squeeze(tf.image.resizeBilinear(tf.expandDims(map, 3) as tf.Tensor4D, [k, k], false, true), [3])).dataSync());
    tf.dispose([x, map]);
    let lo = Infinity, hi = -Infinity;
    for (const v of m) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const canvas = new Float32Array(p.sh * p.sw);
    for (let r = 0; r < k; r++) for (let c = 0; c < k; c++) canvas[(p.y + r) * p.sw + p.x + c] = ((m[r * k + c] - lo) / (hi - lo)) * (probs[i] / maxP);
    const resized = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(canvas, [1, p.sh, p.sw, 1]), [H, W], false, true));
    canvases.push(resized.dataSync() as Float32Array);
    resized.dispose();
  }
  const theta = o.theta ?? 0;
  const fused = new Float32Array(H * W);
  for (let j = 0; j < H * W; j++) {
    if (o.pool === 'max') { fused[j] = Math.max(...canvases.map((c) => c[j])); continue; }
    let s = 0, n = 0;
    for (const c of canvases) if (c[j] > theta) { s += c[j]; n++; }
    fused[j] = n === 0 ? 0 : s / n;
  }
  const smoothed = o.smooth ? tf.tidy(() => blurMaps(tf.tensor3d(fused, [1, H, W]), { kernelSize: 11, sigma: 5 }).dataSync() as Float32Array) : fused;
  let lo = Infinity, hi = -Infinity;
  for (const v of smoothed) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return smoothed.map((v) => (v - lo) / (hi - lo));
}
