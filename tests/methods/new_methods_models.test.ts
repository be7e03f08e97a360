import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  ablationCam, eigenCam, explain, gradCamPlusPlus, guidedGradCam, hiResCam, inputXGradient, integratedGradients, layerCam, occlusion, sess,
  xGradCam, type SaliencyMethod,
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
