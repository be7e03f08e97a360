// Time per image of the methods of issue 17 on both bundled models (wasm backend), one warm-up call
// then the median of 3 calls, target 'top' resolved beforehand. `npm run build` first, then
// `node scripts/time-new-methods.mjs` (ONLY=ablationcam,occlusion to time a few). Prints one line per model × method.
import * as tf from '@tensorflow/tfjs-core';
import {
  ablationCam, eigenCam, gradCam, gradCamPlusPlus, guidedGradCam, hiResCam, inputXGradient, integratedGradients, layerCam, occlusion, xGradCam,
} from '@saliency/core';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionClassifier, loadMobileNetV2Classifier, sampleFaces } from '@saliency/models';

const backend = await initBackend({ quiet: true });
const methods = (layer) => [
  ['gradcam (reference)', gradCam({ layer })],
  ['gradcam++', gradCamPlusPlus({ layer })], ['xgradcam', xGradCam({ layer })], ['layercam', layerCam({ layer })],
  ['hirescam', hiResCam({ layer })], ['eigencam', eigenCam({ layer })], ['ablationcam', ablationCam({ layer })],
  ['guidedgradcam', guidedGradCam({ layer })], ['inputxgradient', inputXGradient()],
  ['integratedgradients (50 steps)', integratedGradients()], ['occlusion (225 patches)', occlusion()],
];
const { path, faces } = sampleFaces()[0];
for (const [name, load] of [['face 112²', loadFaceExpressionClassifier], ['MobileNetV2 224²', loadMobileNetV2Classifier]]) {
  const { classifier, camLayer, dispose } = await load();
  const img = await readImage(path, { region: faces[0].box, square: true });
  const [h, w] = classifier.inputSize;
  const x = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]), [h, w], false, true));
  const top = tf.tidy(() => tf.argMax(classifier.logits(x), 1).dataSync()[0]);
  const only = process.env.ONLY?.split(',');
  for (const [label, m] of methods(camLayer)) {
    if (only != null && !only.some((o) => label.startsWith(o))) continue;
    const times = [];
    for (let r = 0; r < 4; r++) {
      const t0 = performance.now();
      const map = await m.explain(classifier, x, top);
      await map.data();
      map.dispose();
      if (r > 0) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    console.log(`${backend.name} | ${name} | ${label} | ${times[1].toFixed(0)} ms`);
  }
  x.dispose();
  dispose();
}
