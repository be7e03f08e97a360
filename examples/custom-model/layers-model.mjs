// The colour classifier of index.mjs as a tfjs-layers model that ENDS IN SOFTMAX, saved as model.json +
// weights.bin and loaded back from disk in plain Node (no tfjs-node), then wrapped with fromLayersModel():
// the wrapper strips the softmax, lists the layers CAM methods can use, and explains like any classifier.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { explain, fromLayersModel, gradCam, SaliencyError } from '@saliency/core';
import { initBackend, readImage, writeOverlayPng } from '@saliency/node';
import { faceApiSampleImages } from '@saliency/models';

await initBackend({ quiet: true });

/** Saves a layers model as `dir/model.json` + `dir/weights.bin` (the format tfjs-node's `file://` writes). */
async function saveModelFiles(model, dir) {
  await mkdir(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    await writeFile(join(dir, 'weights.bin'), Buffer.from(weights));
    const { modelTopology, format, generatedBy, convertedBy, weightSpecs } = artifacts;
    const json = { modelTopology, format, generatedBy, convertedBy, weightsManifest: [{ paths: ['weights.bin'], weights: weightSpecs }] };
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
}

/** Loads a model.json and its weight files from disk: what `file://` does when tfjs-node is installed. */
async function loadModelFiles(path) {
  const json = JSON.parse(await readFile(path, 'utf8'));
  const files = json.weightsManifest.flatMap((group) => group.paths);
  const bytes = Buffer.concat(await Promise.all(files.map((file) => readFile(join(dirname(path), file)))));
  return tf.io.fromMemory({
    modelTopology: json.modelTopology,
    format: json.format,
    weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
    weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  });
}

// Build the model in code (yours would come from training or from tensorflowjs_converter).
const built = tfl.sequential({
  layers: [
    tfl.layers.conv2d({ name: 'colour_conv', inputShape: [224, 224, 3], filters: 3, kernelSize: 1, activation: 'relu' }),
    tfl.layers.averagePooling2d({ name: 'colour', poolSize: 8 }),
    tfl.layers.globalAveragePooling2d({ name: 'mean' }),
    tfl.layers.dense({ name: 'classes', units: 3, activation: 'softmax' }),
  ],
});
const weights = [
  tf.reshape(tf.tensor2d([[1, -0.5, -0.5], [-0.5, 1, -0.5], [-0.5, -0.5, 1]]), [1, 1, 3, 3]), tf.fill([3], -0.25),
  tf.mul(tf.eye(3), 50), tf.zeros([3]),
];
built.getLayer('colour_conv').setWeights(weights.slice(0, 2));
built.getLayer('classes').setWeights(weights.slice(2));
tf.dispose(weights);
await saveModelFiles(built, 'out/custom-model/colour-model');
built.dispose();

// Load it from disk and wrap it.
const model = await tfl.loadLayersModel(await loadModelFiles('out/custom-model/colour-model/model.json'));
const classifier = fromLayersModel(model, {
  classNames: ['red', 'green', 'blue'],
  preprocess: { inputRange: [0, 255], modelRange: [0, 1] },
});
console.log('input', classifier.inputSize, 'classes', classifier.numClasses);
console.log('layers with 4-D outputs:', classifier.layerNames().join(', '));
console.log("at('auto') →", classifier.at('auto').name);
try {
  classifier.at('colour_pool');
} catch (e) {
  if (e instanceof SaliencyError) console.log(`${e.code}: ${e.message}`);
}

// The softmax is stripped: classifier.logits() is the dense layer's output before its softmax.
const x = tf.randomUniform([1, 224, 224, 3], 0, 255, 'float32', 7);
const [logits, predicted] = tf.tidy(() => [classifier.logits(x), model.predict(classifier.preprocess(x))]);
const [l, p] = [await logits.data(), await predicted.data()];
const softmaxOfLogits = tf.tidy(() => tf.softmax(logits));
const gap = Math.max(...(await softmaxOfLogits.data()).map((v, i) => Math.abs(v - p[i])));
console.log(`logits ${Array.from(l, (v) => v.toFixed(3)).join(', ')}; model.predict ${Array.from(p, (v) => v.toFixed(3)).join(', ')}; |softmax(logits) − predict| ≤ ${gap.toExponential(1)}`);
tf.dispose([x, logits, predicted, softmaxOfLogits]);

const image = await readImage(faceApiSampleImages()[0], { region: { x: 90, y: 160, width: 660, height: 1120 } });
const map = await explain(gradCam(), classifier, image, { target: 0 });   // layer 'auto' = 'colour'
await writeOverlayPng(image, map, 'out/custom-model/layers-gradcam.png');
console.log('gradcam: wrote out/custom-model/layers-gradcam.png');
map.dispose();
model.dispose();
