// The bench's models and real input images, at each model's input size, in its pixel range.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { imageToTensor } from '@saliency/core';
import * as node from '@saliency/node';
import * as evalSuite from '@saliency/eval';
import * as models from '@saliency/models';
import { prefilterDropCount, sessPatches, sessScales } from '@saliency/sess';
import { SESS_SETTINGS } from './plan.mjs';

const PHOTOS = fileURLToPath(new URL('../../packages/models/assets/photos/', import.meta.url));

/** Resizes a decoded image to the model input, as a `[1, H, W, C]` tensor in the classifier's range. */
function toInput(image, classifier) {
  return tf.tidy(() => tf.image.resizeBilinear(imageToTensor(image, classifier.inputRange, classifier.channels), [...classifier.inputSize], false, true));
}

/** Up to `count` distinct real images per model, stacked `[count, H, W, C]`. */
const sources = {
  /** Faces of face-api's demo photographs, each padded to a square and resized (the model's crop). */
  async face(classifier, count) {
    const faces = models.sampleFaces().flatMap((img) => img.faces.map((f) => ({ path: img.path, box: f.box })));
    const out = [];
    for (const f of faces.slice(0, count)) out.push(toInput(await node.readImage(f.path, { region: f.box, square: true }), classifier));
    return out;
  },
  /** The neutral photographs shipped in packages/models/assets/photos. */
  async mobilenet(classifier, count) {
    const files = readdirSync(PHOTOS).filter((f) => f.endsWith('.jpg')).sort();
    const out = [];
    for (const f of files.slice(0, count)) out.push(toInput(await node.readImage(PHOTOS + f), classifier));
    return out;
  },
  /** Generated digit scenes (seeded, test split). */
  async digits(classifier, count) {
    const samples = evalSuite.generateLocalisationSet({ seed: 7, count, split: 'test', size: [...classifier.inputSize] });
    return samples.map((s) => toInput({ data: s.pixels, width: s.width, height: s.height }, classifier));
  },
};

/** SESS patches of an input at the model size (square windows of the input size, step = window). */
export function sessPatchCount(inputSize, scales) {
  const [h, w] = inputSize;
  return sessPatches([h, w], { scales: sessScales(Math.min(h, w), scales), window: [h, w], step: [h, w] }).length;
}

/** Why a model cannot run here (null when it can). */
export function unavailable(name) {
  if (name === 'digits') {
    if (typeof models.loadGeneratedClassifier !== 'function') return '@saliency/node does not export loadGeneratedClassifier (yet): rebuild once packages/models/src/generated_cnn.ts exists';
    if (typeof evalSuite.generateLocalisationSet !== 'function') return '@saliency/node does not export generateLocalisationSet';
  }
  return null;
}

const loaders = {
  face: () => models.loadFaceExpressionClassifier(),
  mobilenet: () => models.loadMobileNetV2Classifier(),
  digits: () => models.loadGeneratedClassifier(),
};

const labels = {
  face: 'face-api face expression (7 classes)',
  mobilenet: 'nsfwjs MobileNetV2 (5 classes)',
  digits: 'generated-set digit CNN (10 classes)',
};

/**
 * Loads a model with its inputs (`reduced`: whether the CAM layer's head has a per-channel reduction, {@link LayerAccess.reduced}): `x(n)` gives `[n, H, W, C]` real images (cycling when the
 * source has fewer), `targets(n)` their top classes; `channels` of the CAM layer; SESS patch
 * counts for an input at the model size. Call `dispose()` when done.
 */
export async function loadBenchModel(name, maxImages = 32) {
  const bundle = await loaders[name]();
  const { classifier } = bundle;
  const camLayer = bundle.camLayer ?? 'auto';
  const distinct = await sources[name](classifier, 8);
  const pool = tf.concat(distinct, 0);
  tf.dispose(distinct);
  const cache = new Map();
  const x = (n) => {
    if (!cache.has(n)) {
      const idx = Array.from({ length: n }, (_, i) => i % pool.shape[0]);
      cache.set(n, tf.keep(tf.tidy(() => tf.gather(pool, tf.tensor1d(idx, 'int32'))))); // kept: x() may be first called inside a tidy
    }
    return cache.get(n);
  };
  x(maxImages);
  const top = tf.tidy(() => tf.argMax(classifier.logits(pool), 1));
  const topClasses = Array.from(await top.data());
  top.dispose();
  const targets = (n) => Array.from({ length: n }, (_, i) => topClasses[i % topClasses.length]);
  const access = classifier.at(camLayer);
  const feats = tf.tidy(() => access.features(classifier.preprocess(x(1))));
  const channels = feats.shape[3];
  feats.dispose();
  const patches = sessPatchCount(classifier.inputSize, SESS_SETTINGS.scales);
  const kept = patches - prefilterDropCount(patches, SESS_SETTINGS.preFilterRatio);
  return {
    name, label: labels[name], classifier, camLayer: access.name, channels, reduced: access.reduced != null, patches, kept, x, targets,
    distinctImages: pool.shape[0],
    dispose() {
      for (const t of cache.values()) t.dispose();
      pool.dispose();
      bundle.dispose();
    },
  };
}
