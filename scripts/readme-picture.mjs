// Regenerates docs/overlay-sample1.jpg, the README's picture: for the three faces of face-api's
// demo/sample1.jpg, the crop, its Grad-CAM overlay and its vanilla-gradient overlay (top class).
// Run after `npm run build`: node scripts/readme-picture.mjs
import sharp from 'sharp';
import { explain, gradCam, vanillaGradient, colorize, overlay } from '@saliency/core';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionClassifier, sampleFaces } from '@saliency/models';

await initBackend({ quiet: true });
const { classifier, dispose } = await loadFaceExpressionClassifier();
const sample = sampleFaces()[0];
const tile = 192;
const tiles = [];
for (const face of sample.faces) {
  const img = await readImage(sample.path, { region: face.box, square: true });
  const pixels = tf.tidy(() => tf.div(tf.tensor3d(Float32Array.from(img.data), [img.height, img.width, 3]), 255));
  const row = [pixels.clone()];
  for (const method of [gradCam(), vanillaGradient()]) {
    const map = await explain(method, classifier, img);
    row.push(tf.tidy(() => overlay(pixels, tf.expandDims(map, 0), { colormap: 'jet', alpha: 0.5 })));
    map.dispose();
  }
  for (const t of row) {
    const bytes = tf.tidy(() => tf.cast(tf.round(tf.mul(tf.image.resizeBilinear(t, [tile, tile], false, true), 255)), 'int32'));
    tiles.push(await sharp(Buffer.from(Uint8Array.from(await bytes.data())), { raw: { width: tile, height: tile, channels: 3 } }).png().toBuffer());
    tf.dispose([bytes, t]);
  }
  pixels.dispose();
}
const cols = 3, rows = sample.faces.length;
await sharp({ create: { width: cols * tile, height: rows * tile, channels: 3, background: 'white' } })
  .composite(tiles.map((input, i) => ({ input, left: (i % cols) * tile, top: Math.floor(i / cols) * tile })))
  .jpeg({ quality: 82 }).toFile('docs/overlay-sample1.jpg');
dispose();
console.log('wrote docs/overlay-sample1.jpg (rows: faces; columns: crop, Grad-CAM, vanilla gradient)');
