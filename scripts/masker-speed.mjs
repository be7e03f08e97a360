// Masks per second of a bundled masker against Grad-CAM maps per second on its classifier (wasm
// backend): the digit masker on the digit CNN (32 generated test scenes) or, with --model face, the
// face masker on the face-expression net (32 crops of the sample faces), both timed in this process,
// alternately, at batch 1 and batch 32, for targets 'top' and for given class indices. Prints a markdown table.
//
//   npm run build && node scripts/masker-speed.mjs [--model digits|face] [--masker DIR] [--rounds N]
//
// --masker DIR: a saved masking model (model.json + weights.bin) instead of the committed
// packages/models/assets/masker-digits. --rounds: timed repetitions of each cell (best is kept; default 3).
// --arch separable|conv: time an UNTRAINED masker of that up-sampler kind (32 channels, the digit masker's
// encoder layers) instead: the speed does not depend on the weights (digits only); with
// --finest-block follow|lateral (default follow) for that untrained model's finest block.
// Threads: SALIENCY_WASM_THREADS=off|on|N as for the CLI (one thread is steadier on a loaded machine).
// Other processes share the cores: note `uptime` with the table and compare within a row.
import { execSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { createMaskingModel, gradCam, loadMaskingModel, maskingModel } from '@saliency/core';
import { fileHandler, initBackend } from '@saliency/node';
import { cropFace, loadBundledMasker, loadFaceExpressionClassifier, loadGeneratedClassifier, sampleFaces } from '@saliency/models';
import { readImage } from '@saliency/node';
import { generateLocalisationSet, pickEncoderLayers, sampleToTensor } from '@saliency/eval';

const arg = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const rounds = Number(arg('rounds') ?? 3);
const maskerDir = arg('masker');
const arch = arg('arch');
const finestBlock = arg('finest-block') ?? 'follow';
const modelName = arg('model') ?? 'digits';
if (modelName !== 'digits' && modelName !== 'face') throw new Error(`--model digits|face, got ${modelName}`);

await initBackend({ backend: 'wasm', quiet: true });
const { classifier, dispose } = modelName === 'face' ? await loadFaceExpressionClassifier() : await loadGeneratedClassifier();
const masker = arch != null
  ? createMaskingModel(classifier, { encoderLayers: pickEncoderLayers(classifier), upsamplerChannels: 32, upsampler: arch, finestBlock, seed: 1 })
  : maskerDir != null ? await loadMaskingModel(classifier, fileHandler(maskerDir)) : await loadBundledMasker(modelName, classifier);
/** 32 test images at the classifier's input size and their labels (digits: the scene's digit; faces: the classifier's top class). */
async function testImages() {
  if (modelName === 'digits') {
    const scenes = generateLocalisationSet({ seed: 2024, count: 32, split: 'test' });
    const images = tf.tidy(() => tf.image.resizeBilinear(
      tf.stack(scenes.map((s) => sampleToTensor(s))), [...classifier.inputSize], false, true));
    return { images, labels: scenes.map((s) => s.label) };
  }
  const crops = [];
  for (const img of sampleFaces()) {
    const d = await readImage(img.path);
    const full = tf.tensor3d(d.data, [d.height, d.width, 3], 'int32');
    for (const f of img.faces) crops.push(cropFace(full, f.box));
    full.dispose();
  }
  const images = tf.tidy(() => tf.stack(Array.from({ length: 32 }, (_, i) => crops[i % crops.length])));
  tf.dispose(crops);
  const labels = Array.from(tf.tidy(() => tf.argMax(classifier.logits(images), 1)).dataSync());
  return { images, labels };
}
const { images, labels } = await testImages();
const singles = labels.map((_, i) => tf.slice(images, [i, 0, 0, 0], [1, -1, -1, -1]));

const methods = {
  gradcam: (batch) => gradCam({ batchSize: batch }),
  masking: (batch) => maskingModel(masker, { batchSize: batch }),
};

/** Seconds to explain all 32 images with `method` at `batch` for `targets` ('top' | 'given'). */
async function timeOnce(method, batch, targets) {
  const t0 = performance.now();
  if (batch === 1) {
    for (let i = 0; i < singles.length; i++) {
      const maps = await method.explain(classifier, singles[i], targets === 'top' ? 'top' : [labels[i]]);
      await maps.data();
      maps.dispose();
    }
  } else {
    const maps = await method.explain(classifier, images, targets === 'top' ? 'top' : labels);
    await maps.data();
    maps.dispose();
  }
  return (performance.now() - t0) / 1000;
}

const before = tf.memory().numTensors;
const rows = [];
for (const batch of [1, 32]) {
  for (const targets of ['top', 'given']) {
    const best = { gradcam: Infinity, masking: Infinity };
    const ms = { gradcam: methods.gradcam(batch), masking: methods.masking(batch) };
    for (const name of Object.keys(ms)) await timeOnce(ms[name], batch, targets); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const name of Object.keys(ms)) best[name] = Math.min(best[name], await timeOnce(ms[name], batch, targets));
    }
    rows.push({ batch, targets, best });
  }
}
if (tf.memory().numTensors !== before) throw new Error(`leaked ${tf.memory().numTensors - before} tensors`);

const n = singles.length;
console.log(`${modelName === 'face' ? 'face-expression net, 32 crops of the 22 sample faces' : `digit CNN, ${n} generated test scenes`}, ${tf.getBackend()}, best of ${rounds} alternating rounds; masker: ${arch != null ? 'untrained' : maskerDir ?? 'committed asset'} (${masker.config.encoderLayers.join(", ")}; ${masker.config.upsampler ?? "conv"}, ${masker.config.upsamplerChannels.join('/')} ch., finest block ${masker.config.finestBlock ?? 'follow'})`);
console.log(`wasm threads: SALIENCY_WASM_THREADS=${process.env.SALIENCY_WASM_THREADS ?? '(unset: one per core)'}`);
console.log(`uptime: ${execSync('uptime').toString().trim()}`);
console.log('');
console.log('| batch | targets | Grad-CAM maps/s | masker masks/s | masker / Grad-CAM | Grad-CAM ms/image | masker ms/image |');
console.log('|---|---|---|---|---|---|---|');
for (const { batch, targets, best } of rows) {
  const g = n / best.gradcam;
  const m = n / best.masking;
  console.log(`| ${batch} | ${targets === 'top' ? "'top'" : 'class indices'} | ${g.toFixed(0)} | ${m.toFixed(0)} | ${(m / g).toFixed(2)} | ${(1000 / g).toFixed(1)} | ${(1000 / m).toFixed(1)} |`);
}

tf.dispose([images, ...singles]);
masker.dispose();
dispose();
