import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, fromLayersModel, gradCam, minMaxNormalize, vanillaGradient } from '@saliency/core';
import { FACE_EXPRESSION_CLASSES, FACE_EXPRESSION_MEAN } from '@saliency/models';
import { readImage } from '@saliency/node';
import { loadFaceExpressionModel, sampleFaces } from '@saliency/models';
import { maxAbsDiff, useCpu } from '../setup_cpu';

let model: tfl.LayersModel;
beforeAll(async () => {
  await useCpu();
  model = await loadFaceExpressionModel();
});
afterAll(() => model.dispose());

const HAPPY = FACE_EXPRESSION_CLASSES.indexOf('happy');
const classifierOf = (m: tfl.LayersModel) => fromLayersModel(m, { preprocess: { inputRange: [0, 255], mean: FACE_EXPRESSION_MEAN, std: 255 } });

function mean(points: number[][]): [number, number] {
  return [points.reduce((a, p) => a + p[0], 0) / points.length, points.reduce((a, p) => a + p[1], 0) / points.length];
}

/** The smiling faces of face-api's sample photos (face-api's own probability of happy ≥ 0.9), as 112×112 crops. */
async function smilingFaces() {
  const out: { name: string; x: tf.Tensor4D; landmarks: number[][] }[] = [];
  for (const sample of sampleFaces()) {
    for (const f of sample.faces) {
      if (f.expressions.squareCrop[HAPPY] < 0.9) continue;
      const img = await readImage(sample.path, { region: f.box, square: true });
      const side = img.width;
      const x0 = Math.round(f.box.x + f.box.width / 2 - side / 2);
      const y0 = Math.round(f.box.y + f.box.height / 2 - side / 2);
      const x = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(img.data), [1, side, side, 3]), [112, 112], false, true));
      const landmarks = f.landmarks.map(([lx, ly]) => [((lx - x0) / side) * 112, ((ly - y0) / side) * 112]);
      out.push({ name: `${sample.file} @${f.box.x},${f.box.y}`, x, landmarks });
    }
  }
  return out;
}

describe('Grad-CAM on the bundled face-expression model (real weights, real photos)', () => {
  it('equals CAM (Σ_k w_k A_k of the fc weights) on every smiling face, and its peak lies on the face', async () => {
    const classifier = classifierOf(model);
    const faces = await smilingFaces();
    expect(faces.length).toBeGreaterThanOrEqual(8);
    // Independent truth: the model ends in global average pooling + fc, so Grad-CAM must equal CAM.
    const trunk = tfl.model({ inputs: model.inputs, outputs: model.getLayer('dense3').output as tfl.SymbolicTensor });
    const fcHappy = tf.tidy(() => tf.slice(model.getLayer('fc').getWeights()[0], [0, HAPPY], [-1, 1]));
    const rows: string[] = [];
    const before = tf.memory().numTensors;
    for (const { name, x, landmarks } of faces) {
      const map = await gradCam({ layer: 'dense3' }).explain(classifier, x, HAPPY);
      const cam = tf.tidy(() => {
        const a = trunk.predict(classifier.preprocess(x)) as tf.Tensor4D;
        const c = tf.reshape(tf.matMul(tf.reshape(a, [-1, 256]), fcHappy), [1, 7, 7, 1]) as tf.Tensor4D;
        const up = tf.image.resizeBilinear(tf.relu(c), [112, 112], false, true);
        return minMaxNormalize(tf.reshape(up, [1, 112, 112]) as tf.Tensor3D);
      });
      expect(maxAbsDiff(map, cam)).toBeLessThan(1e-4);
      const at = tf.tidy(() => tf.argMax(tf.reshape(map, [-1])).dataSync()[0]);
      tf.dispose([map, cam]);
      const px = at % 112, py = Math.floor(at / 112);
      const xs = landmarks.map((p) => p[0]), ys = landmarks.map((p) => p[1]);
      const mouth = mean(landmarks.slice(48, 68));
      const eyes = mean(landmarks.slice(36, 48));
      rows.push(`${name}: peak (${(px / 112).toFixed(2)}, ${(py / 112).toFixed(2)}); eyes y ${(eyes[1] / 112).toFixed(2)}, mouth y ${(mouth[1] / 112).toFixed(2)}`);
      // The peak lies on the face: inside the bounding box of face-api's 68 landmarks.
      expect(px).toBeGreaterThanOrEqual(Math.min(...xs) - 8);
      expect(px).toBeLessThanOrEqual(Math.max(...xs) + 8);
      expect(py).toBeGreaterThanOrEqual(Math.min(...ys) - 8);
      expect(py).toBeLessThanOrEqual(Math.max(...ys) + 8);
    }
    console.log(`Grad-CAM "happy" peaks as fractions of the crop side:\n${rows.join('\n')}`);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([fcHappy, ...faces.map((f) => f.x)]);
  });

  it('vanilla gradient runs on the real model at any image size, spans [0, 1], is not constant, and leaks nothing', async () => {
    const classifier = classifierOf(model);
    const sample = sampleFaces()[0];
    const img = await readImage(sample.path, { region: sample.faces[0].box, square: true });
    const before = tf.memory().numTensors;
    const map = await explain(vanillaGradient(), classifier, img);
    expect(map.shape).toEqual([img.height, img.width]);
    const [lo, hi, v] = tf.tidy(() => [tf.min(map).dataSync()[0], tf.max(map).dataSync()[0], tf.moments(map).variance.dataSync()[0]]);
    expect(lo).toBe(0);
    expect(hi).toBeCloseTo(1, 5);
    expect(v).toBeGreaterThan(1e-3);
    map.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
