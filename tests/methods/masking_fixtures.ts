/**
 * Shared fixtures of the masking-model and meaningful-perturbation tests: images of a
 * bright square on a dark noisy background, and a small ANALYTIC conv classifier
 * (fixed weights, tfjs-layers) whose class-0 logit grows with the amount of bright
 * pixels, so the region that explains class 0 is exactly the square.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fromLayersModel, type Classifier } from '@saliency/core';
import { rng } from '../setup_cpu';

/** Image side. */
export const SIDE = 32;
/** Brightness above which a (3×3-averaged) pixel counts as bright. */
export const BRIGHT = 0.75;

/** A square: top-left corner and side, in pixels. */
export interface Square { y: number; x: number; side: number }

/** One image `[SIDE, SIDE, 1]` in [0, 1]: dark noise (0.1 ± 0.05), plus a bright square (0.95 ± 0.03) when given. */
export function squareImage(seed: number, sq: Square | null): Float32Array {
  const r = rng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const img = new Float32Array(SIDE * SIDE);
  for (let i = 0; i < img.length; i++) img[i] = Math.min(1, Math.max(0, 0.1 + 0.05 * gauss()));
  if (sq != null) {
    for (let y = sq.y; y < sq.y + sq.side; y++) {
      for (let x = sq.x; x < sq.x + sq.side; x++) img[y * SIDE + x] = Math.min(1, Math.max(0, 0.95 + 0.03 * gauss()));
    }
  }
  return img;
}

/** A random square (side 10…13) at least 2 px from the image border, from a seed. */
export function randomSquare(seed: number): Square {
  const r = rng(seed ^ 0x5bd1e995);
  const side = 10 + Math.floor(r() * 4);
  return { y: 2 + Math.floor(r() * (SIDE - side - 3)), x: 2 + Math.floor(r() * (SIDE - side - 3)), side };
}

/**
 * The classifier: three 3×3 stride-2 'same' convolutions c1 (16×16, softplus), c2 (8×8,
 * ReLU), c3 (4×4, ReLU) with 4 channels each, global average pooling and a dense layer to
 * 2 logits. c1: [sp(10·(avg − 0.75)) (bright), sp(0.4 − avg) (dark), sp(avg) (intensity),
 * sp(centre − avg) (detail)], sp = softplus (smooth, so a dimmed square still has a
 * gradient), avg = the 3×3 mean; c2 and c3 average each channel
 * over 3×3 (channel by channel). Logit 0 = 12·gap(c3)[0]/s₀ − 5 with s₀ its value for
 * a clean 10×10 square (the smallest: p₀ ≈ 0.999; no square: p₀ ≈ 0.007); logit 1 = 0.
 * Class 0 = "bright square", class 1 = "no square".
 */
export function squareClassifier(): { classifier: Classifier; model: tfl.LayersModel } {
  const input = tfl.input({ shape: [SIDE, SIDE, 1] });
  const conv = (name: string, activation: 'relu' | 'softplus' = 'relu') => tfl.layers.conv2d({ name, filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation });
  const c1 = conv('c1', 'softplus');
  const c2 = conv('c2');
  const c3 = conv('c3');
  let h = c1.apply(input) as tfl.SymbolicTensor;
  h = c2.apply(h) as tfl.SymbolicTensor;
  h = c3.apply(h) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(h) as tfl.SymbolicTensor;
  const fc = tfl.layers.dense({ name: 'fc', units: 2 });
  const out = fc.apply(gap) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  const k1 = new Float32Array(9 * 4);
  for (let i = 0; i < 9; i++) {
    k1[i * 4 + 0] = 10 / 9;
    k1[i * 4 + 1] = -1 / 9;
    k1[i * 4 + 2] = 1 / 9;
    k1[i * 4 + 3] = i === 4 ? 1 - 1 / 9 : -1 / 9;
  }
  const avg = new Float32Array(9 * 16);
  for (let i = 0; i < 9; i++) for (let c = 0; c < 4; c++) avg[i * 16 + c * 4 + c] = 1 / 9;
  c1.setWeights([tf.tensor4d(k1, [3, 3, 1, 4]), tf.tensor1d([-10 * BRIGHT, 0.4, 0, 0])]);
  c2.setWeights([tf.tensor4d(avg, [3, 3, 4, 4]), tf.zeros([4])]);
  c3.setWeights([tf.tensor4d(avg, [3, 3, 4, 4]), tf.zeros([4])]);
  // Calibrate on a clean centred 10×10 square.
  const clean = new Float32Array(SIDE * SIDE).fill(0.1);
  for (let y = 11; y < 21; y++) for (let x = 11; x < 21; x++) clean[y * SIDE + x] = 0.95;
  const gapModel = tfl.model({ inputs: input, outputs: gap });
  const s0 = tf.tidy(() => (gapModel.predict(tf.tensor4d(clean, [1, SIDE, SIDE, 1])) as tf.Tensor).dataSync()[0]);
  fc.setWeights([tf.tensor2d([12 / s0, 0, 0, 0, 0, 0, 0, 0], [4, 2]), tf.tensor1d([-5, 0])]);
  const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
  return { classifier, model };
}

/** An endless stream of training samples: 75 % squares (class 0), 25 % empty images (class 1). */
export function squareData(seed: number): () => AsyncIterable<{ image: tf.Tensor3D; label: number }> {
  return async function* stream() {
    for (let i = 0; ; i++) {
      const s = seed * 100003 + i;
      const empty = rng(s ^ 0x1234567)() < 0.25;
      const sq = empty ? null : randomSquare(s);
      yield { image: tf.tensor3d(squareImage(s, sq), [SIDE, SIDE, 1]), label: empty ? 1 : 0 };
    }
  };
}

/** A held-out batch of square images `[n, SIDE, SIDE, 1]` and their squares. */
export function heldOut(n: number, seed: number): { images: tf.Tensor4D; squares: Square[] } {
  const squares: Square[] = [];
  const data = new Float32Array(n * SIDE * SIDE);
  for (let i = 0; i < n; i++) {
    const sq = randomSquare(seed + 7919 * i);
    squares.push(sq);
    data.set(squareImage(seed + 7919 * i, sq), i * SIDE * SIDE);
  }
  return { images: tf.tensor4d(data, [n, SIDE, SIDE, 1]), squares };
}

/**
 * Box from a map (design.md §5): threshold at the map's mean, largest 4-connected
 * component, its bounding box `[y0, x0, y1, x1]` (inclusive), or null if empty.
 */
export function boxFromMap(map: ArrayLike<number>, h: number, w: number): [number, number, number, number] | null {
  let mean = 0;
  for (let i = 0; i < h * w; i++) mean += map[i];
  mean /= h * w;
  const label = new Int32Array(h * w).fill(-1);
  let best: number[] = [];
  for (let s = 0; s < h * w; s++) {
    if (label[s] !== -1 || !(map[s] > mean)) continue;
    const comp: number[] = [];
    const stack = [s];
    label[s] = s;
    while (stack.length > 0) {
      const p = stack.pop() as number;
      comp.push(p);
      const y = Math.floor(p / w), x = p % w;
      for (const [dy, dx] of [[1, 0], [-1, 0], [0, 1], [0, -1]]) {
        const yy = y + dy, xx = x + dx;
        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        const q = yy * w + xx;
        if (label[q] === -1 && map[q] > mean) { label[q] = s; stack.push(q); }
      }
    }
    if (comp.length > best.length) best = comp;
  }
  if (best.length === 0) return null;
  let y0 = h, x0 = w, y1 = -1, x1 = -1;
  for (const p of best) {
    const y = Math.floor(p / w), x = p % w;
    y0 = Math.min(y0, y); x0 = Math.min(x0, x); y1 = Math.max(y1, y); x1 = Math.max(x1, x);
  }
  return [y0, x0, y1, x1];
}

/** IoU of an inclusive box and a square. */
export function iouWithSquare(box: [number, number, number, number] | null, sq: Square): number {
  if (box == null) return 0;
  const [y0, x0, y1, x1] = box;
  const iy = Math.max(0, Math.min(y1, sq.y + sq.side - 1) - Math.max(y0, sq.y) + 1);
  const ix = Math.max(0, Math.min(x1, sq.x + sq.side - 1) - Math.max(x0, sq.x) + 1);
  const inter = iy * ix;
  const union = (y1 - y0 + 1) * (x1 - x0 + 1) + sq.side * sq.side - inter;
  return inter / union;
}
