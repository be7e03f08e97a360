#!/usr/bin/env node
/**
 * Regenerates packages/models/assets/sample-faces.json: the faces in
 * @vladmandic/face-api's demo/sample1..6.jpg, found by face-api's OWN
 * detector (SSD MobileNetV1 + 68-point landmarks), and face-api's OWN
 * expression probabilities for each face. Run by hand, once:
 *
 *   node scripts/detect-sample-faces.mjs
 *
 * Everything runs on the tfjs cpu backend (the reference backend), in this
 * separate process, so face-api's bundled tfjs never shares an engine with
 * the test suite; the tests read the recorded numbers instead.
 *
 * Recorded per face (pixels of the full image):
 * - `score`: the detector's confidence.
 * - `box`: the detection box as face-api itself crops it
 *   (`Box.clipAtImageBorders`: clipped and floored to integers).
 * - `alignedBox`: the box face-api derives from the landmarks (what its
 *   `withFaceExpressions()` chain crops), clipped and floored likewise.
 * - `landmarks`: the 68 points `[x, y]`.
 * - `expressions.pipeline`: `detectAllFaces().withFaceLandmarks().withFaceExpressions()`
 *   (crop = `alignedBox`, zero-padded to a centred square, resized to 112).
 * - `expressions.detectionBox`: face-api's faceExpressionNet on face-api's own
 *   crop of `box` (slice the box, zero-pad the short side to a square — the
 *   extra odd pixel goes AFTER — then `resizeBilinear(112, alignCorners=false,
 *   halfPixelCenters=false)`).
 * - `expressions.squareCrop`: face-api's faceExpressionNet on the project's
 *   crop convention of `box` (`cropFace` in packages/models/src/face_expression_model.ts,
 *   re-implemented below with the same ops): a square of side
 *   round(max(w, h)) centred on the box, zero outside the image,
 *   `resizeBilinear(112, alignCorners=false, halfPixelCenters=true)`.
 * Probabilities are in the order neutral, happy, sad, angry, fearful, disgusted, surprised.
 */
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const faceApiDir = dirname(require.resolve('@vladmandic/face-api/package.json'));
const faceapi = require(join(faceApiDir, 'dist/face-api.node-wasm.js'));
const tf = faceapi.tf;

const CLASSES = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];
const SIZE = 112;
const r3 = (v) => Math.round(v * 1000) / 1000;
const probs = (e) => CLASSES.map((c) => e[c]);

/** JSON with number arrays, arrays of number pairs and flat number objects kept on one line. */
function format(value, indent = '') {
  const flat = (v) => typeof v === 'number' || typeof v === 'string';
  const inline = Array.isArray(value)
    ? value.every((v) => flat(v) || (Array.isArray(v) && v.every(flat)))
    : value === null || typeof value !== 'object' || Object.values(value).every(flat);
  if (inline) return JSON.stringify(value);
  const next = `${indent} `;
  if (Array.isArray(value)) return `[\n${value.map((v) => next + format(v, next)).join(',\n')}\n${indent}]`;
  const body = Object.entries(value).map(([k, v]) => `${next}${JSON.stringify(k)}: ${format(v, next)}`);
  return `{\n${body.join(',\n')}\n${indent}}`;
}

/** The project's crop convention (mirror of cropFace in core). */
function squareCrop(image, box, size) {
  return tf.tidy(() => {
    const [H, W, C] = image.shape;
    const side = Math.max(1, Math.round(Math.max(box.width, box.height)));
    const x0 = Math.round(box.x + box.width / 2 - side / 2);
    const y0 = Math.round(box.y + box.height / 2 - side / 2);
    const sx0 = Math.min(Math.max(x0, 0), W);
    const sx1 = Math.min(Math.max(x0 + side, 0), W);
    const sy0 = Math.min(Math.max(y0, 0), H);
    const sy1 = Math.min(Math.max(y0 + side, 0), H);
    if (sx1 <= sx0 || sy1 <= sy0) return tf.zeros([size, size, C]);
    const inside = tf.cast(tf.slice(image, [sy0, sx0, 0], [sy1 - sy0, sx1 - sx0, C]), 'float32');
    const padded = tf.pad(inside, [[sy0 - y0, y0 + side - sy1], [sx0 - x0, x0 + side - sx1], [0, 0]]);
    return tf.image.resizeBilinear(padded, [size, size], false, true);
  });
}

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  const modelDir = join(faceApiDir, 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5, maxResults: 100 });

  const images = [];
  for (let i = 1; i <= 6; i++) {
    const file = join(faceApiDir, 'demo', `sample${i}.jpg`);
    const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const image = tf.tensor3d(new Int32Array(data), [info.height, info.width, 3], 'int32');
    const t0 = Date.now();
    const results = await faceapi.detectAllFaces(image, options).withFaceLandmarks().withFaceExpressions();
    results.sort((a, b) => a.detection.box.x - b.detection.box.x);
    const faces = [];
    for (const res of results) {
      const box = res.detection.box.clipAtImageBorders(info.width, info.height);
      const aligned = res.alignedRect.box.clipAtImageBorders(info.width, info.height);
      const [faceTensor] = await faceapi.extractFaceTensors(image, [box]);
      const onBox = await faceapi.nets.faceExpressionNet.predictExpressions(faceTensor);
      faceTensor.dispose();
      const sq = squareCrop(image, box, SIZE);
      const onSquare = await faceapi.nets.faceExpressionNet.predictExpressions(sq);
      sq.dispose();
      faces.push({
        score: r3(res.detection.score),
        box: { x: box.x, y: box.y, width: box.width, height: box.height },
        alignedBox: { x: aligned.x, y: aligned.y, width: aligned.width, height: aligned.height },
        landmarks: res.landmarks.positions.map((p) => [r3(p.x), r3(p.y)]),
        expressions: {
          pipeline: probs(res.expressions),
          detectionBox: probs(onBox),
          squareCrop: probs(onSquare),
        },
      });
    }
    image.dispose();
    console.log(`sample${i}.jpg ${info.width}x${info.height}: ${faces.length} faces in ${Date.now() - t0} ms`);
    images.push({ file: `demo/sample${i}.jpg`, width: info.width, height: info.height, faces });
  }

  const out = {
    description: "Faces in @vladmandic/face-api's demo/sample*.jpg, found by face-api's own detector, "
      + "with face-api's own expression probabilities. Generated by scripts/detect-sample-faces.mjs; see that file for each field.",
    generator: 'scripts/detect-sample-faces.mjs',
    faceApiVersion: require(join(faceApiDir, 'package.json')).version,
    tfjsVersion: tf.version_core,
    backend: tf.getBackend(),
    detector: { model: 'ssdMobilenetv1', minConfidence: 0.5 },
    classes: CLASSES,
    cropSize: SIZE,
    images,
  };
  const target = join(root, 'packages/models/assets/sample-faces.json');
  writeFileSync(target, `${format(out)}\n`);
  console.log(`wrote ${relative(root, target)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
