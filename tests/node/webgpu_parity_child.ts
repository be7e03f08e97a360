/**
 * Child process of tests/node/webgpu.test.ts (run with vite-node): every method, SESS and a metric
 * on the real bundled models, first on the cpu backend, then on webgpu (lavapipe) with the same
 * model weights (they move cpu → webgpu; never back, which would read WebGPU synchronously).
 * Writes `<out>/<case index>-<backend>.f32` (the raw map) and `<out>/result.json`
 * (the cases, the chooser's answer, tensors left behind per case).
 *
 * Usage: vite-node --config vitest.config.ts tests/node/webgpu_parity_child.ts <out dir>
 */
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gradCam, guidedBackprop, rise, vanillaGradient, type SaliencyMethod } from '@saliency/core';
import { sess } from '@saliency/sess';
import { insertionDeletion } from '@saliency/metrics';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionClassifier, loadMobileNetV2Classifier, sampleFaces } from '@saliency/models';

const out = process.argv[2];
if (out == null) throw new Error('usage: webgpu_parity_child.ts <out dir>');

await initBackend({ prefer: 'cpu', quiet: true });
const face = await loadFaceExpressionClassifier();
const mobilenet = await loadMobileNetV2Classifier();
const sample = sampleFaces()[0];
const crops = await Promise.all(sample.faces.map((f) => readImage(sample.path, { region: f.box, square: true })));
const img = await readImage(sample.path);
const resized = (d: { data: ArrayLike<number>; width: number; height: number }, size: [number, number]): tf.Tensor4D =>
  tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(d.data), [1, d.height, d.width, 3]), size, false, true);
const [faces, faceLarge, photo, photoLarge] = tf.tidy(() => [
  tf.concat(crops.slice(0, 2).map((c) => resized(c, [112, 112]))) as tf.Tensor4D,
  resized(crops[0], [150, 140]),
  resized(img, [224, 224]),
  resized(img, [224, 260]),
]);

interface Case { label: string; run: () => Promise<tf.Tensor> }
const cases: Case[] = [];
const faceCam = (): SaliencyMethod => gradCam({ layer: 'dense3', batchSize: 1 });
const mnCam = (): SaliencyMethod => gradCam({ layer: mobilenet.camLayer, batchSize: 1 });
for (const [name, c, x, xl, cam, scales] of [
  ['face', face, faces, faceLarge, faceCam, 2],
  ['MobileNetV2', mobilenet, photo, photoLarge, mnCam, [224]],
] as const) {
  const on = (m: () => SaliencyMethod, im: tf.Tensor4D) => () => m().explain(c.classifier, im, 'top');
  cases.push(
    { label: `${name} Grad-CAM`, run: on(cam, x) },
    { label: `${name} vanilla gradient`, run: on(() => vanillaGradient({ batchSize: 1 }), x) },
    { label: `${name} guided backprop`, run: on(() => guidedBackprop({ batchSize: 1 }), x) },
    { label: `${name} RISE (N = 32)`, run: on(() => rise({ n: 32, batchSize: 8, seed: 7 }), x) },
    { label: `${name} SESS(Grad-CAM)`, run: on(() => sess(cam(), { scales, smooth: false, batchSize: 1 }), xl) },
  );
}
// A metric: insertion/deletion curves of one face under a fixed map with distinct values (nothing tied to order).
cases.push({
  label: 'face insertion/deletion curves',
  run: async () => {
    const image = tf.tidy(() => tf.squeeze(tf.slice(faces, [0, 0, 0, 0], [1, -1, -1, -1]), [0]) as tf.Tensor3D);
    const map = tf.tidy(() => {
      const order = tf.mod(tf.add(tf.mul(tf.range(0, 112 * 112, 1, 'int32'), 7919), 13), 112 * 112); // a permutation
      return tf.div(tf.reshape(tf.cast(order, 'float32'), [112, 112]), 112 * 112) as tf.Tensor2D;
    });
    const r = await insertionDeletion(face.classifier, image, map, 1, { step: 112 * 8 });
    tf.dispose([image, map]);
    return tf.tensor([...r.curves.deletion, ...r.curves.insertion, r.insertion, r.deletion]);
  },
});

const leaked: Record<string, Record<string, number>> = { cpu: {}, webgpu: {} };
const seconds: Record<string, Record<string, number>> = { cpu: {}, webgpu: {} };
async function runAll(backend: 'cpu' | 'webgpu'): Promise<void> {
  for (const [i, c] of cases.entries()) {
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const t = await c.run();
    const values = (await t.data()) as Float32Array;
    seconds[backend][c.label] = (performance.now() - t0) / 1000;
    t.dispose();
    leaked[backend][c.label] = tf.memory().numTensors - before;
    writeFileSync(join(out, `${i}-${backend}.f32`), Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    console.error(`${backend} ${c.label}: ${seconds[backend][c.label].toFixed(1)} s`);
  }
}

await runAll('cpu');
const choice = await initBackend({ prefer: 'webgpu' });
await runAll('webgpu');
tf.dispose([faces, faceLarge, photo, photoLarge]);
face.dispose();
mobilenet.dispose();
writeFileSync(join(out, 'result.json'), JSON.stringify({
  labels: cases.map((c) => c.label), choice, leaked, seconds, backendAtEnd: tf.getBackend(),
}));
// Dawn's instance can keep the event loop alive: this process is done.
process.exit(0);
