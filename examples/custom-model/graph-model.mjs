// A converted graph model (tfjs-converter's GraphModel) wrapped with fromGraphModel(): nsfwjs's MobileNetV2
// ("MobileNetV2Mid", a TF-Hub model converted to a tfjs graph; its npm package ships it as JS modules),
// explained with Grad-CAM on a neutral photograph.
import * as tf from '@tensorflow/tfjs-core';
import { explain, fromGraphModel, gradCam } from '@saliency/core';
import { initBackend, readImage, writeOverlayPng } from '@saliency/node';
import { loadNsfwMobileNetV2Mid, NSFW_CLASSES } from '@saliency/models';

await initBackend({ quiet: true });

// Yours: const model = await loadGraphModel(handler) from '@tensorflow/tfjs-converter'.
const model = await loadNsfwMobileNetV2Mid();
const classifier = fromGraphModel(model, {
  classNames: NSFW_CLASSES,
  outputs: 'probabilities',                                  // the graph ends in a softmax: use log-probabilities
  preprocess: { inputRange: [0, 255], modelRange: [0, 1] },  // the graph takes pixel / 255
});
console.log('input', classifier.inputSize, 'classes', classifier.numClasses);   // read from the graph (one probe pass for the classes)

// Graph node names are long: pick the last convolution's activation by its ending.
const nodes = classifier.layerNames();
const lastConv = nodes.find((name) => name.endsWith('/Conv_1/Relu6'));
const auto = classifier.at('auto').name;
console.log(`${nodes.length} nodes with 4-D outputs; 'auto' → …${auto.slice(-24)}; using …${lastConv.slice(-24)}`);

const image = await readImage('packages/models/assets/photos/coffee.jpg');       // skimage's coffee.png, 500×333
const map = await explain(gradCam({ layer: lastConv }), classifier, image);     // the top class, 'Neutral'
await writeOverlayPng(image, map, 'out/custom-model/graph-gradcam.png');
console.log(`gradcam @ ${lastConv.split('/').slice(-2).join('/')}: wrote out/custom-model/graph-gradcam.png`);
map.dispose();
model.dispose();
console.log('tensors left:', tf.memory().numTensors);
