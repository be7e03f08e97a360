// How faithful is a map? Grad-CAM on the first face of face-api's sample1.jpg, measured three ways.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { explain, gradCam, imageToTensor } from '@saliency/core';
import { boxFromMask, insertionDeletion, saliencyMetric } from '@saliency/metrics';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionClassifier, sampleFaces } from '@saliency/models';

await initBackend({ quiet: true });
const { classifier, camLayer, dispose } = await loadFaceExpressionClassifier();
const { path, faces } = sampleFaces()[0];
const face = await readImage(path, { region: faces[0].box, square: true });
const image = tf.squeeze(imageToTensor(face, classifier.inputRange, classifier.channels), [0]); // [H, W, 3]
const probs = faces[0].expressions.squareCrop;                              // the model's probabilities for this crop
const target = probs.indexOf(Math.max(...probs));                           // its top class
const map = await explain(gradCam({ layer: camLayer }), classifier, image, { target });

// Insertion/deletion (RISE protocol): the area under the target's probability as pixels are added / removed.
const { insertion, deletion, overall, curves } = await insertionDeletion(classifier, image, map, target, { preset: 'rise' });
// Box from the mask (mean threshold, largest component), then Dabkowski & Gal's saliency metric of that crop.
const box = await boxFromMask(map);
const metric = await saliencyMetric(classifier, image, map, target, { box });

console.log(`target: ${classifier.classNames[target]} (p ${probs[target].toFixed(3)})`);
console.log(`insertion ${insertion.toFixed(3)}, deletion ${deletion.toFixed(3)}, overall ${overall.toFixed(3)}`);
console.log(`box ${box.width}×${box.height} at (${box.x}, ${box.y}): saliency metric ${metric.value.toFixed(3)} (p ${metric.probability.toFixed(3)}, area ${metric.area.toFixed(3)})`);
mkdirSync('out/evaluate', { recursive: true });
writeFileSync('out/evaluate/metrics.json', JSON.stringify({ target, insertion, deletion, overall, box, metric, curves }, null, 1));
console.log('wrote out/evaluate/metrics.json');
tf.dispose([image, map]);
dispose();
