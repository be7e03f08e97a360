/**
 * Model-randomisation sanity check (Adebayo et al. 2018) on the real face-expression model,
 * shared by the Group-CAM, RISE and Score-CAM tests: the same face is explained by the trained
 * model and by a COPY whose last layers (`fc` and the convolutions of block `dense3`) hold seeded
 * random weights of the same scale; a method that looks at the model must give a different map.
 * Runs on the default Node backend (wasm).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fromLayersModel, type SaliencyMethod } from '@saliency/core';
import { FACE_EXPRESSION_CLASSES, FACE_EXPRESSION_MEAN } from '@saliency/models';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionModel, sampleFaces } from '@saliency/models';

/** Average ranks (ties share the mean of their positions). */
function ranks(v: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const r = new Float64Array(v.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}

/** Spearman's rank correlation (Pearson on average ranks). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a), rb = ranks(b);
  const n = ra.length;
  const ma = ra.reduce((s, e) => s + e, 0) / n, mb = rb.reduce((s, e) => s + e, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (ra[i] - ma) * (rb[i] - mb); saa += (ra[i] - ma) ** 2; sbb += (rb[i] - mb) ** 2; }
  return sab / Math.sqrt(saa * sbb);
}

/**
 * Re-initialises `fc` and `dense3_conv*` as tfjs-layers initialises fresh layers (what Adebayo et al.
 * do): kernels Glorot-uniform (seeded), biases 0. (Random weights with the TRAINED weights' spread
 * would blow the activations up — the 1×1 convolutions' kernels have std ≈ 0.33 over 256 inputs — and
 * saturate the softmax, so every perturbation would score exactly the same.)
 */
function randomiseLastLayers(model: tfl.LayersModel, seed: number): string[] {
  const changed: string[] = [];
  for (const layer of model.layers) {
    if (layer.name !== 'fc' && !/^dense3_conv\d$/.test(layer.name)) continue;
    const fresh = layer.getWeights().map((w, j) => tf.tidy(() => (w.rank === 1
      ? tf.zeros(w.shape)
      : tfl.initializers.glorotUniform({ seed: seed + 17 * changed.length + j }).apply(w.shape))));
    layer.setWeights(fresh);
    tf.dispose(fresh);
    changed.push(layer.name);
  }
  return changed;
}

/** The trained model, randomised copies and a face; `map` explains the face with one of them. */
export interface FaceSanity {
  /** The seeds of the randomised copies, in order. */
  seeds: readonly number[];
  /** The layers that were randomised in every copy. */
  randomised: string[];
  /** The method's map of the face's 'happy' class on the trained model or on copy `i`, read back. */
  map(method: SaliencyMethod, model: 'trained' | number): Promise<Float32Array>;
  /** Frees the models and the image. */
  dispose(): void;
}

/**
 * Spearman ρ of two maps. A constant map has no ranking to share: ρ is 0 when exactly one of
 * them is constant, 1 when both are.
 */
export function rankCorrelation(a: Float32Array, b: Float32Array): number {
  const flat = (v: Float32Array) => v.every((e) => e === v[0]);
  const fa = flat(a), fb = flat(b);
  if (fa || fb) return fa && fb ? 1 : 0;
  return spearman(a, b);
}

/** The median of a list. */
export function median(v: readonly number[]): number {
  const s = [...v].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const HAPPY = FACE_EXPRESSION_CLASSES.indexOf('happy');

/**
 * Loads the trained model, one randomised copy per seed and the first smiling sample face
 * (112×112, 0–255), on wasm.
 */
export async function faceSanity(seeds: readonly number[] = [1234, 99, 7]): Promise<FaceSanity> {
  const choice = await initBackend({ quiet: true });
  if (choice.name !== 'wasm') throw new Error(`expected the wasm backend, got ${choice.name}`);
  const wrap = (m: tfl.LayersModel) => fromLayersModel(m, { preprocess: { inputRange: [0, 255], mean: FACE_EXPRESSION_MEAN, std: 255 } });
  const trained = await loadFaceExpressionModel();
  const copies: tfl.LayersModel[] = [];
  let randomised: string[] = [];
  for (const seed of seeds) {
    const copy = await loadFaceExpressionModel();
    randomised = randomiseLastLayers(copy, seed);
    copies.push(copy);
  }
  const classifiers = [wrap(trained), ...copies.map(wrap)];
  const sample = sampleFaces().find((s) => s.faces.some((f) => f.expressions.squareCrop[HAPPY] >= 0.9));
  if (sample == null) throw new Error('no smiling sample face');
  const face = sample.faces.find((f) => f.expressions.squareCrop[HAPPY] >= 0.9)!;
  const img = await readImage(sample.path, { region: face.box, square: true });
  const x = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]), [112, 112], false, true));
  return {
    seeds,
    randomised,
    async map(method, model) {
      const m = await method.explain(classifiers[model === 'trained' ? 0 : model + 1], x, HAPPY);
      const v = (await m.data()) as Float32Array;
      m.dispose();
      return v;
    },
    dispose() {
      trained.dispose();
      for (const c of copies) c.dispose();
      x.dispose();
    },
  };
}
