/**
 * The metrics on a real model and real photographs: face-api's expression model (real weights) on
 * smiling faces from face-api's demo photos, maps from Grad-CAM, on wasm (the default Node backend).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, gradCam, resizeBilinear } from '@saliency/core';
import { FACE_EXPRESSION_CLASSES } from '@saliency/models';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionClassifier, sampleFaces, type BundledClassifier } from '@saliency/models';
import { insertionDeletion, saliencyMetricBoxes, saliencyMetric, type InsertionDeletionResult } from '@saliency/metrics';

const HAPPY = FACE_EXPRESSION_CLASSES.indexOf('happy');
let face: BundledClassifier;
/** The most smiling face of each photo, at the model's 112×112, and its Grad-CAM map. */
const faces: { image: tf.Tensor3D; map: tf.Tensor2D }[] = [];

beforeAll(async () => {
  expect((await initBackend({ prefer: 'wasm', quiet: true })).name).toBe('wasm');
  face = await loadFaceExpressionClassifier();
  for (const file of ['demo/sample1.jpg', 'demo/sample6.jpg']) {
    const sample = sampleFaces().find((s) => s.file === file);
    if (sample == null) throw new Error(`no sample ${file}`);
    const f = [...sample.faces].sort((a, b) => b.expressions.squareCrop[HAPPY] - a.expressions.squareCrop[HAPPY])[0];
    expect(f.expressions.squareCrop[HAPPY]).toBeGreaterThan(0.9);
    const img = await readImage(sample.path, { region: f.box, square: true });
    const image = tf.tidy(() => resizeBilinear(tf.tensor3d(Float32Array.from(img.data), [img.height, img.width, 3]), [112, 112]));
    const map = (await explain(gradCam({ layer: face.camLayer }), face.classifier, image, { target: HAPPY })) as tf.Tensor2D;
    faces.push({ image, map });
  }
});
afterAll(() => {
  for (const f of faces) tf.dispose([f.image, f.map]);
  face.dispose();
});

describe('metrics on the face-expression model (real weights, real faces, wasm)', () => {
  it('deletion/insertion: Grad-CAM beats its own inverse map', async () => {
    for (const [i, { image, map }] of faces.entries()) {
      const inverse = tf.sub(1, map) as tf.Tensor2D;
      const before = tf.memory().numTensors;
      const run = (m: tf.Tensor2D): Promise<InsertionDeletionResult> => insertionDeletion(face.classifier, image, m, HAPPY, { preset: 'groupcam', batchSize: 32 });
      const cam = await run(map);
      const inv = await run(inverse);
      expect(tf.memory().numTensors).toBe(before);
      console.log(`face ${i}: Grad-CAM insertion ${cam.insertion.toFixed(3)} deletion ${cam.deletion.toFixed(3)}; inverse map insertion ${inv.insertion.toFixed(3)} deletion ${inv.deletion.toFixed(3)}`);
      expect(cam.curves.fractions.length).toBe(57); // groupcam: step = 2·112 → 56 steps
      expect(cam.curves.deletion[0]).toBeGreaterThan(0.9); // the whole face: happy
      expect(cam.curves.insertion[56]).toBeCloseTo(cam.curves.deletion[0], 5);
      expect(cam.deletion).toBeLessThan(inv.deletion);
      expect(cam.insertion).toBeGreaterThan(inv.insertion);
      expect(cam.overall).toBeGreaterThan(inv.overall + 0.2);
      inverse.dispose();
    }
  });

  it('saliency metric: p of the crop equals an independent crop → resize → forward pass', async () => {
    const { image, map } = faces[0];
    const before = tf.memory().numTensors;
    const r = await saliencyMetric(face.classifier, image, map, HAPPY);
    const boxes = [r.box, { x: 0, y: 0, width: 112, height: 112 }, { x: 20, y: 50, width: 70, height: 50 }];
    const many = await saliencyMetricBoxes(face.classifier, image, boxes, HAPPY);
    expect(tf.memory().numTensors).toBe(before);
    console.log(`saliency metric of the Grad-CAM box ${JSON.stringify(r.box)}: a = ${r.area.toFixed(3)}, p = ${r.probability.toFixed(3)}, s = ${r.value.toFixed(3)}; whole face s = ${many[1].value.toFixed(3)}; lower half s = ${many[2].value.toFixed(3)}`);
    expect(many[0].value).toBeCloseTo(r.value, 5);
    for (const [k, b] of boxes.entries()) {
      const p = tf.tidy(() => {
        const crop = tf.image.resizeBilinear(tf.slice(image, [b.y, b.x, 0], [b.height, b.width, 3]), [112, 112], false, true);
        return tf.softmax(face.classifier.logits(tf.expandDims(crop, 0) as tf.Tensor4D)).dataSync()[HAPPY];
      });
      expect(many[k].probability).toBeCloseTo(p, 5);
      expect(many[k].value).toBeCloseTo(Math.log(Math.max((b.width * b.height) / 112 ** 2, 0.05)) - Math.log(p), 4);
    }
  });
});
