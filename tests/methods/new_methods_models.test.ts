import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  ablationCam, eigenCam, explain, gradCamPlusPlus, guidedGradCam, hiResCam, inputXGradient, integratedGradients, layerCam, occlusion, sess,
  imageToTensor, xGradCam, type Classifier, type SaliencyMethod,
} from '@saliency/core';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionClassifier, loadMobileNetV2Classifier, sampleFaces } from '@saliency/models';

/** Every new method (cheap settings where the default is long) with the model's CAM layer. */
function methods(layer: string): [string, SaliencyMethod][] {
  return [
    ['gradcam++', gradCamPlusPlus({ layer })], ['xgradcam', xGradCam({ layer })], ['layercam', layerCam({ layer })],
    ['hirescam', hiResCam({ layer })], ['eigencam', eigenCam({ layer })], ['ablationcam', ablationCam({ layer, channelBatchSize: 64 })],
    ['guidedgradcam', guidedGradCam({ layer })], ['inputxgradient', inputXGradient()],
    ['integratedgradients', integratedGradients({ steps: 4 })], ['occlusion', occlusion({ patch: 56, stride: 56 })],
  ];
}

describe('the new methods on both bundled models (real weights, a real photo), wasm', () => {
  for (const [label, load] of [['face model', loadFaceExpressionClassifier], ['MobileNetV2', loadMobileNetV2Classifier]] as const) {
    it(`${label}: every new method gives a non-constant [0, 1] map through explain() at the photo's size, and leaks nothing`, async () => {
      await initBackend({ quiet: true });
      const { classifier, camLayer, dispose } = await load();
      const { path, faces } = sampleFaces()[0]!;
      const img = await readImage(path, { region: faces[0]!.box, square: true });
      const before = tf.memory().numTensors;
      for (const [name, m] of methods(camLayer)) {
        const map = await explain(m, classifier, img);
        expect(map.shape, name).toEqual([img.height, img.width]);
        const v = await map.data();
        let lo = Infinity, hi = -Infinity;
        for (const e of v) { lo = Math.min(lo, e); hi = Math.max(hi, e); }
        expect(lo, name).toBeGreaterThanOrEqual(0);
        expect(hi, name).toBeCloseTo(1, 5);
        map.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      dispose();
    }, 300_000);
  }

  it('Ablation-CAM on MobileNetV2: the reduced head (ablation after out_relu\'s average pooling) gives the whole-head copies\' map', async () => {
    await initBackend({ quiet: true });
    const { classifier, camLayer, dispose } = await loadMobileNetV2Classifier();
    expect(classifier.at(camLayer).reduced).toBeDefined();
    // The same classifier without the split: Ablation-CAM then pushes 1280 whole 7×7×1280 copies through the head.
    const whole: Classifier = { ...classifier, at: (layer) => { const { reduced: _, ...access } = classifier.at(layer); return access; } };
    const { path, faces } = sampleFaces()[0]!;
    const img = await readImage(path, { region: faces[0]!.box, square: true });
    const x = tf.tidy(() => tf.image.resizeBilinear(imageToTensor(img, classifier.inputRange, 3), [224, 224], false, true));
    const before = tf.memory().numTensors;
    const fast = await ablationCam({ layer: camLayer }).explain(classifier, x, 'top');
    const slow = await ablationCam({ layer: camLayer, channelBatchSize: 64 }).explain(whole, x, 'top');
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(fast, slow))).dataSync()[0]!);
    expect(diff).toBeLessThan(1e-4);
    expect(tf.tidy(() => tf.sub(tf.max(fast), tf.min(fast)).dataSync()[0]!)).toBeGreaterThan(0.5);
    tf.dispose([fast, slow]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    dispose();
  }, 300_000);

  it('under SESS (4 scales) on the face model: Grad-CAM++ and Eigen-CAM', async () => {
    await initBackend({ quiet: true });
    const { classifier, camLayer, dispose } = await loadFaceExpressionClassifier();
    const { path } = sampleFaces()[0]!;
    const img = await readImage(path);
    const before = tf.memory().numTensors;
    for (const m of [gradCamPlusPlus({ layer: camLayer }), eigenCam({ layer: camLayer })]) {
      const map = await explain(sess(m, { scales: 4 }), classifier, img);
      expect(map.shape).toEqual([img.height, img.width]);
      expect(tf.tidy(() => tf.max(map).dataSync()[0])).toBeCloseTo(1, 5);
      map.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    dispose();
  }, 300_000);
});
