// Your own model as a plain tfjs function: a hand-written "colour" classifier wrapped with fromFunction()
// and explained with the vanilla gradient and Grad-CAM. Its weights are written by hand, so the right
// answer is known: class "red" responds to pixels whose red value exceeds the mean of green and blue by 0.25.
import * as tf from '@tensorflow/tfjs-core';
import { explain, fromFunction, gradCam, imageToTensor, vanillaGradient } from '@saliency/core';
import { initBackend, readImage, writeOverlayPng } from '@saliency/node';
import { faceApiSampleImages } from '@saliency/models';

await initBackend({ quiet: true });

const CLASSES = ['red', 'green', 'blue'];
// A 1×1 convolution, filter shape [1, 1, in, out]: output k = input channel k − half of each other channel.
const filter = tf.tensor4d([1, -0.5, -0.5, -0.5, 1, -0.5, -0.5, -0.5, 1], [1, 1, 3, 3]);

// Layer "colour": how strongly each 8×8 cell leans to each colour, [N, 28, 28, 3] for a 224×224 input.
const colour = (x) => tf.avgPool(tf.relu(tf.sub(tf.conv2d(x, filter, 1, 'same'), 0.25)), 8, 8, 'valid');
// Head: each class's logit is 50 × the mean of its colour map.
const head = (features) => tf.mul(tf.mean(features, [1, 2]), 50);

const classifier = fromFunction((x) => head(colour(x)), {
  inputSize: [224, 224],
  numClasses: 3,
  classNames: CLASSES,
  preprocess: { inputRange: [0, 255], modelRange: [0, 1] },           // images in 0–255, the filter works in 0–1
  layers: { colour: { features: colour, head: (features) => head(features) } }, // what Grad-CAM may look at
});

// The woman in the red checked shirt, on the left of face-api's demo/sample1.jpg (1920×1280).
const image = await readImage(faceApiSampleImages()[0], { region: { x: 90, y: 160, width: 660, height: 1120 } });

const probs = tf.tidy(() => classifier.probabilities(tf.image.resizeBilinear(imageToTensor(image, classifier.inputRange, 3), [224, 224])));
const p = await probs.data();
probs.dispose();
console.log('probabilities:', CLASSES.map((c, i) => `${c} ${(100 * p[i]).toFixed(1)}%`).join(', '));

for (const method of [vanillaGradient(), gradCam({ layer: 'colour' })]) {
  const map = await explain(method, classifier, image, { target: CLASSES.indexOf('red') });
  const file = `out/custom-model/${method.name}.png`;
  await writeOverlayPng(image, map, file);
  console.log(`${method.name}: wrote ${file}`);
  map.dispose();
}
filter.dispose();
