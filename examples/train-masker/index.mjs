// Dabkowski & Gal's real-time masking model for the bundled digit CNN: a short training run on generated
// scenes (checkpointed, so a rerun resumes), then one mask in one forward pass.
import * as tf from '@tensorflow/tfjs-core';
import { explain, maskingModel, loadMaskingModel } from '@saliency/core';
import { fileHandler, initBackend, writeOverlayPng } from '@saliency/node';
import { loadGeneratedClassifier } from '@saliency/models';
import { generateLocalisationSet, sampleToTensor, trainMasker } from '@saliency/eval';

await initBackend({ quiet: true });
const { classifier, dispose } = await loadGeneratedClassifier();          // 96×96 RGB digits, 10 classes

// A few steps to show the loop (the committed model took DIGIT_MASKER_TRAINING: 1000 steps of 8).
const { model, result } = await trainMasker(classifier, {
  steps: 20, batchSize: 4, out: 'out/train-masker',
  onProgress: (p) => console.log(`step ${p.done}/${p.total}: loss ${p.losses.total.toFixed(3)}`),
});
console.log(`trained ${result.steps} steps (resumed from ${result.resumedFrom}); saved to out/train-masker/model.json`);
model.dispose();

// Load it back, as an application would, and explain a generated test scene.
const masker = await loadMaskingModel(classifier, fileHandler('out/train-masker'));
const [scene] = generateLocalisationSet({ seed: 5, count: 1, split: 'test' });
const image = sampleToTensor(scene);                                      // [224, 224, 3] in 0–255
const map = await explain(maskingModel(masker), classifier, image, { target: scene.label });
await writeOverlayPng({ data: scene.pixels, width: scene.width, height: scene.height, channels: 3 }, map, 'out/train-masker/mask.png');
console.log(`digit ${scene.label}: wrote out/train-masker/mask.png`);
tf.dispose([image, map]);
masker.dispose();
dispose();
