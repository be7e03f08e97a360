#!/usr/bin/env node
/*
 * The method gallery of docs/guides/choosing-a-method.md: the same image explained by every method,
 * with and without SESS, written as small overlay tiles to docs/gallery/*.png, plus
 * docs/gallery/gallery.md (the markdown table the guide embeds) and docs/gallery/gallery.json
 * (settings, model passes and times of this run).
 *
 *   npm run build && node scripts/method-gallery.mjs [--out docs/gallery] [--backend wasm|cpu|…] [--only face|mobilenet|custom]
 *
 * Run from the repository root; builds on the BUILT packages (@saliency/core, @saliency/node dist).
 * Two images: the first face of face-api's demo/sample1.jpg with the bundled face-expression model
 * (112×112; every method, each with and without SESS), and skimage's coffee photograph
 * (packages/models/assets/photos/coffee.jpg) with nsfwjs's MobileNetV2 (224×224; the methods whose
 * cost stays low on a 224² model, SESS with Grad-CAM only). It also runs examples/custom-model's
 * index.mjs and graph-model.mjs and keeps their overlays as tiles (custom-*.png).
 * Settings lighter than the methods' defaults, to keep the run short, are in the methods' labels
 * (which gallery.md shows) and in SESS_SCALES. CPU time about 2 minutes on wasm; wall time more on a
 * busy machine (gallery.json has this run's times).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import {
  ablationCam, classModel, eigenCam, explain, gradCam, gradCamPlusPlus, groupCam, guidedBackprop, guidedGradCam, hiResCam,
  imageToTensor, inputXGradient, integratedGradients, layerCam, occlusion, rise, scoreCam, sess, vanillaGradient, xGradCam,
} from '@saliency/core';
import { initBackend, readImage, writeImagePng, writeOverlayPng } from '@saliency/node';
import { loadFaceExpressionClassifier, loadMobileNetV2Classifier, sampleFaces } from '@saliency/models';

const { values: args } = parseArgs({
  options: { out: { type: 'string', default: 'docs/gallery' }, backend: { type: 'string' }, only: { type: 'string' } },
});
const OUT = args.out;
/** Tile width in pixels (tiles keep the image's aspect ratio). */
const TILE = 160;
/** SESS scales in the gallery (SESS's default is 12: 122 patches on a square image, 13 with 4 scales). */
const SESS_SCALES = 4;

/**
 * Every method of the gallery: id, label, the method (given the CAM layer), and the method used
 * under SESS (`null`: not run with SESS for this model). Lighter settings than the defaults are
 * spelled out in the labels, so the page says what was run.
 */
function methods(model, layer) {
  const face = model === 'face';
  return [
    { id: 'gradient', label: 'Vanilla gradient', plain: () => vanillaGradient(), sess: face ? () => vanillaGradient() : null },
    { id: 'guided', label: 'Guided Backprop', plain: () => guidedBackprop(), sess: face ? () => guidedBackprop() : null },
    {
      id: 'smoothgrad', label: 'SmoothGrad, 25 samples (10 per patch with SESS)',
      plain: () => vanillaGradient({ samples: 25, seed: 0 }), sess: face ? () => vanillaGradient({ samples: 10, seed: 0 }) : null,
    },
    { id: 'tencrop', label: 'Ten-crop gradient', plain: () => vanillaGradient({ tenCrop: true }), sess: face ? () => vanillaGradient({ tenCrop: true }) : null },
    { id: 'gradcam', label: 'Grad-CAM', plain: () => gradCam({ layer }), sess: () => gradCam({ layer }) },
    { id: 'groupcam', label: 'Group-CAM', plain: () => groupCam({ layer }), sess: face ? () => groupCam({ layer }) : null },
    { id: 'scorecam', label: 'Score-CAM', plain: () => scoreCam({ layer }), sess: face ? () => scoreCam({ layer }) : null },
    {
      id: 'rise', label: face ? 'RISE, 1000 masks (100 per patch with SESS)' : 'RISE, 500 masks',
      plain: () => rise({ n: face ? 1000 : 500, seed: 0 }), sess: face ? () => rise({ n: 100, seed: 0 }) : null,
    },
    { id: 'gradcampp', label: 'Grad-CAM++', plain: () => gradCamPlusPlus({ layer }), sess: face ? () => gradCamPlusPlus({ layer }) : null },
    { id: 'xgradcam', label: 'XGrad-CAM', plain: () => xGradCam({ layer }), sess: face ? () => xGradCam({ layer }) : null },
    { id: 'layercam', label: 'LayerCAM', plain: () => layerCam({ layer }), sess: face ? () => layerCam({ layer }) : null },
    { id: 'hirescam', label: 'HiResCAM', plain: () => hiResCam({ layer }), sess: face ? () => hiResCam({ layer }) : null },
    { id: 'eigencam', label: 'Eigen-CAM', plain: () => eigenCam({ layer }), sess: face ? () => eigenCam({ layer }) : null },
    { id: 'ablationcam', label: 'Ablation-CAM', plain: () => ablationCam({ layer }), sess: face ? () => ablationCam({ layer }) : null },
    { id: 'guidedgradcam', label: 'Guided Grad-CAM', plain: () => guidedGradCam({ layer }), sess: face ? () => guidedGradCam({ layer }) : null },
    { id: 'inputxgradient', label: 'Input × Gradient', plain: () => inputXGradient(), sess: face ? () => inputXGradient() : null },
    {
      id: 'integratedgradients', label: `Integrated Gradients, black baseline, 16 steps${face ? ' (8 per patch with SESS)' : ''}`,
      plain: () => integratedGradients({ steps: 16 }), sess: face ? () => integratedGradients({ steps: 8 }) : null,
    },
    {
      // 49 patch positions (7×7) on the model's input; the default (1/8 of the side, half-patch stride) is 225.
      id: 'occlusion',
      label: face ? 'Occlusion, zero patch 28 px, stride 14: 49 patches (stride 28, 16 patches, per SESS patch)' : 'Occlusion, zero patch 56 px, stride 28: 49 patches',
      plain: () => occlusion(face ? { patch: 28, stride: 14 } : { patch: 56, stride: 28 }), sess: face ? () => occlusion({ patch: 28, stride: 28 }) : null,
    },
  ].filter((m) => face || !['smoothgrad', 'tencrop', 'scorecam'].includes(m.id));
}

/** The image scaled to TILE pixels wide, as 0–255 RGB bytes. */
async function tileImage(image) {
  const height = Math.round((TILE * image.height) / image.width);
  const data = await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(TILE, height).raw().toBuffer();
  return { data: new Uint8Array(data), width: TILE, height, channels: 3 };
}

/**
 * The classifier with counters of the images it runs forward (through logits, probabilities, or a
 * layer's features, which with its head is one pass): the measured "model passes" of gallery.json;
 * and of the images run through a layer's head alone (from the layer onward, as Ablation-CAM scores
 * its ablated copies), `headImages` in gallery.json.
 */
function counting(classifier, counter) {
  return {
    ...classifier,
    logits: (x) => { counter.forward += x.shape[0]; return classifier.logits(x); },
    probabilities: (x) => { counter.forward += x.shape[0]; return classifier.probabilities(x); },
    at: (layer) => {
      const access = classifier.at(layer);
      return {
        name: access.name,
        head: (features, x) => { counter.head += features.shape[0]; return access.head(features, x); },
        features: (x) => { counter.forward += x.shape[0]; return access.features(x); },
      };
    },
  };
}

/** The top class of the image (resized to the model input) and its probability. */
async function topClass(classifier, image) {
  const probs = tf.tidy(() => classifier.probabilities(
    tf.image.resizeBilinear(imageToTensor(image, classifier.inputRange, classifier.channels), [...classifier.inputSize], false, true)));
  const p = Array.from(await probs.data());
  probs.dispose();
  const index = p.indexOf(Math.max(...p));
  return { index, name: classifier.classNames?.[index] ?? String(index), probability: p[index] };
}

async function run(model, loaded, image, target, label) {
  const counter = { forward: 0, head: 0 };
  const classifier = counting(loaded.classifier, counter);
  const small = await tileImage(image);
  const rows = [];
  const original = tf.tensor3d(small.data, [small.height, small.width, 3], 'float32');
  await writeImagePng(original, join(OUT, `${model}-image.png`));
  original.dispose();
  for (const m of methods(model, loaded.camLayer)) {
    const row = { id: m.id, label: m.label, ms: {}, forwardImages: {}, headImages: {}, files: {} };
    for (const withSess of m.sess != null ? [false, true] : [false]) {
      const method = withSess ? sess(m.sess(), { scales: SESS_SCALES }) : m.plain();
      counter.forward = 0;
      counter.head = 0;
      const t0 = performance.now();
      const map = await explain(method, classifier, image, { target });
      const ms = Math.round(performance.now() - t0);
      row.forwardImages[withSess ? 'sess' : 'plain'] = counter.forward;
      row.headImages[withSess ? 'sess' : 'plain'] = counter.head;
      const file = `${model}-${m.id}${withSess ? '-sess' : ''}.png`;
      await writeOverlayPng(small, map, join(OUT, file), { alpha: 0.5 });
      map.dispose();
      row.ms[withSess ? 'sess' : 'plain'] = ms;
      row.files[withSess ? 'sess' : 'plain'] = file;
      console.log(`${label} ${m.label}${withSess ? ' + SESS' : ''}: ${ms} ms, ${counter.forward} images forward, ${counter.head} through the head → ${join(OUT, file)}`);
    }
    rows.push(row);
  }
  return rows;
}

/**
 * The markdown table of the tiles. Image links are `../gallery/<file>`, which resolves both from
 * docs/gallery/ and from docs/guides/ (where choosing-a-method.md embeds this table). Deterministic:
 * no times (those are in gallery.json), so the guide's copy stays equal to a fresh run's.
 */
function galleryMarkdown(results) {
  const lines = ['<!-- Generated by scripts/method-gallery.mjs (npm run build && node scripts/method-gallery.mjs); do not edit by hand. -->', ''];
  const titles = {
    face: 'Face-expression model (112×112, bundled with `@saliency/node`), the first face of face-api\'s `demo/sample1.jpg`',
    mobilenet: 'nsfwjs MobileNetV2 (224×224), skimage\'s coffee photograph',
  };
  for (const [model, r] of Object.entries(results.models)) {
    const cls = `its top class, *${r.top.name}* (${(100 * r.top.probability).toFixed(0)} %)`;
    lines.push(`**${titles[model]}:** ${cls}. SESS with ${results.sessScales} scales (the default is 12).`, '');
    lines.push('| method | map | + SESS |', '|---|---|---|');
    lines.push(`| the image | ![the input image](../gallery/${model}-image.png) | |`);
    for (const row of r.rows) {
      const cell = (k) => (row.files[k] != null ? `![${row.label}${k === 'sess' ? ' + SESS' : ''}](../gallery/${row.files[k]})` : '');
      lines.push(`| ${row.label} | ${cell('plain')} | ${cell('sess')} |`);
    }
    if (model === 'face') lines.push('| Class model (Simonyan), *happy*, 100 steps: an image, not a map | ![class-model image for happy](../gallery/face-classmodel-happy.png) | |');
    lines.push('');
  }
  return lines.join('\n');
}

const backend = await initBackend({ prefer: args.backend, quiet: true });
console.log(`backend: ${backend.name}`);
await mkdir(OUT, { recursive: true });
const results = { backend: backend.name, tfjs: tf.version_core, tile: TILE, sessScales: SESS_SCALES, models: {} };

if (args.only == null || args.only === 'face') {
  const loaded = await loadFaceExpressionClassifier();
  const { path, faces } = sampleFaces()[0];
  const image = await readImage(path, { region: faces[0].box, square: true });
  const top = await topClass(loaded.classifier, image);
  const rows = await run('face', loaded, image, 'top', 'face');
  const happy = loaded.classifier.classNames.indexOf('happy');
  const t0 = performance.now();
  const cm = await classModel(loaded.classifier, happy, { steps: 100 });
  await writeImagePng(cm, join(OUT, 'face-classmodel-happy.png'), { stretch: true });
  cm.dispose();
  console.log(`face class model (happy, 100 steps): ${Math.round(performance.now() - t0)} ms`);
  results.models.face = { image: `${path.split('/').slice(-2).join('/')} face 1 (${image.width}×${image.height})`, top, rows };
  loaded.dispose();
}
if (args.only == null || args.only === 'mobilenet') {
  const loaded = await loadMobileNetV2Classifier();
  const image = await readImage('packages/models/assets/photos/coffee.jpg');
  const top = await topClass(loaded.classifier, image);
  const rows = await run('mobilenet', loaded, image, 'top', 'mobilenet');
  results.models.mobilenet = { image: `coffee.jpg (${image.width}×${image.height})`, top, rows };
  loaded.dispose();
}
if (args.only == null || args.only === 'custom') {
  // The custom-model examples, run as written; their overlays, as tiles for bring-your-own-model.md.
  for (const example of ['index.mjs', 'graph-model.mjs']) {
    execFileSync(process.execPath, [join('examples', 'custom-model', example)], { stdio: 'inherit' });
  }
  for (const name of ['gradient', 'gradcam', 'graph-gradcam']) {
    await sharp(join('out', 'custom-model', `${name}.png`)).resize(name === 'graph-gradcam' ? 2 * TILE : TILE).png()
      .toFile(join(OUT, `custom-${name}.png`));
  }
  console.log(`custom-model tiles → ${join(OUT, 'custom-*.png')}`);
}
if (args.only == null) {
  await writeFile(join(OUT, 'gallery.json'), JSON.stringify(results, null, 2) + '\n');
  await writeFile(join(OUT, 'gallery.md'), galleryMarkdown(results));
  console.log(`wrote ${join(OUT, 'gallery.md')} and ${join(OUT, 'gallery.json')}`);
} else {
  console.log(`--only ${args.only}: tiles only (gallery.md and gallery.json are written by a full run)`);
}
console.log(`tensors left: ${tf.memory().numTensors}`);
