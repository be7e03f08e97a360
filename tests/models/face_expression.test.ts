/**
 * The face-expression layers model, with face-api's real weights, on face-api's
 * real demo photographs, against face-api's OWN predictions recorded in
 * packages/models/assets/sample-faces.json by scripts/detect-sample-faces.mjs
 * (face-api runs in that separate process so its bundled tfjs never touches
 * this test's engine).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FACE_EXPRESSION_CLASSES,
  FACE_EXPRESSION_LAST_CONV_LAYER,
  buildFaceExpressionModel,
  cropFace,
  preprocessFaceExpression,
  type FaceBox,
} from '../../packages/models/src/face_expression_model';
import {
  faceApiSampleImages,
  loadFaceExpressionModel,
  sampleFaces,
} from '../../packages/models/src/face_expression';

await tf.setBackend('cpu');

async function readImage(path: string): Promise<tf.Tensor3D> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return tf.tensor3d(new Uint8Array(data), [info.height, info.width, info.channels], 'int32');
}

/** face-api's own crop (extractFaceTensors + padToSquare(centred) + resizeBilinear(false, false)), re-derived. */
function faceApiCrop(image: tf.Tensor3D, box: FaceBox): tf.Tensor3D {
  return tf.tidy(() => {
    let face = tf.cast(tf.slice(image, [box.y, box.x, 0], [box.height, box.width, 3]), 'float32') as tf.Tensor3D;
    const diff = Math.abs(box.height - box.width);
    if (diff > 0) {
      const after = Math.round(diff * 0.5);
      const before = diff - after;
      const pads: [number, number][] = [[0, 0], [0, 0], [0, 0]];
      pads[box.height > box.width ? 1 : 0] = [before, after];
      face = tf.pad(face, pads);
    }
    return tf.image.resizeBilinear(face, [112, 112], false, false);
  });
}

function probabilities(model: LayersModel, crops: tf.Tensor3D[]): number[][] {
  return tf.tidy(() => {
    const logits = model.predict(preprocessFaceExpression(tf.stack(crops) as tf.Tensor4D)) as tf.Tensor2D;
    return tf.softmax(logits).arraySync();
  });
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - (b[i]?.[j] ?? NaN))))));
  return Number.isNaN(m) ? Infinity : m;
}

describe('face-expression model (face-api weights)', () => {
  let model: LayersModel;
  let start: number;

  beforeAll(async () => {
    start = tf.memory().numTensors;
    model = await loadFaceExpressionModel();
  });

  afterAll(() => {
    model.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('has the documented architecture and layer names', () => {
    expect(model.inputs[0]?.shape).toEqual([null, 112, 112, 3]);
    expect(model.outputs[0]?.shape).toEqual([null, FACE_EXPRESSION_CLASSES.length]);
    const fourD = model.layers.filter((l) => (l.outputShape as (number | null)[]).length === 4);
    const last = fourD[fourD.length - 1];
    expect(last?.name).toBe(FACE_EXPRESSION_LAST_CONV_LAYER);
    expect(last?.outputShape).toEqual([null, 7, 7, 256]);
    for (const name of ['dense0_conv0', 'dense0_add1', 'dense1_conv3', 'dense2', 'avg_pool', 'fc']) {
      expect(model.getLayer(name).name).toBe(name);
    }
    expect(model.getLayer('dense0_conv0').getClassName()).toBe('Conv2D');
    expect(model.getLayer('dense1_conv0').getClassName()).toBe('SeparableConv2D');
  });

  it('adds exactly its weights to memory when loaded', () => {
    const before = tf.memory().numTensors;
    const fresh = buildFaceExpressionModel();
    const built = tf.memory().numTensors;
    expect(fresh.weights.length).toBe(49); // 1 conv (2) + 15 separable (3) + fc (2) = the manifest's 49
    expect(built - before).toBe(fresh.weights.length);
    fresh.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  // cpu (the reference) costs ~350 ms per face here, wasm ~8 ms: two of the three
  // comparisons run on cpu, the third on wasm (which also checks wasm against face-api).
  const BACKEND = { detectionBox: 'cpu', squareCrop: 'cpu', pipeline: 'wasm' } as const;

  it("reproduces face-api's own expression probabilities on the demo faces", async () => {
    const images = sampleFaces();
    expect(images.map((i) => i.path)).toEqual(faceApiSampleImages());
    const before = tf.memory().numTensors;
    const diffs = { detectionBox: 0, pipeline: 0, squareCrop: 0 };
    let faces = 0;
    let agreeTop = 0;
    for (const img of images) {
      const image = await readImage(img.path);
      expect(image.shape).toEqual([img.height, img.width, 3]);
      const crops = {
        detectionBox: img.faces.map((f) => faceApiCrop(image, f.box)),
        pipeline: img.faces.map((f) => faceApiCrop(image, f.alignedBox)),
        squareCrop: img.faces.map((f) => cropFace(image, f.box)),
      };
      for (const key of ['detectionBox', 'pipeline', 'squareCrop'] as const) {
        await tf.setBackend(BACKEND[key]);
        let ours: number[][];
        try {
          ours = probabilities(model, crops[key]);
        } finally {
          await tf.setBackend('cpu');
        }
        const theirs = img.faces.map((f) => f.expressions[key]);
        diffs[key] = Math.max(diffs[key], maxAbsDiff(ours, theirs));
        ours.forEach((p, i) => {
          const argmax = (v: number[]): number => v.indexOf(Math.max(...v));
          if (argmax(p) === argmax(theirs[i] as number[])) agreeTop++;
        });
        tf.dispose(crops[key]);
      }
      faces += img.faces.length;
      image.dispose();
    }
    console.log(
      `face-expression vs face-api's own, ${faces} faces, max |Δp|: ${JSON.stringify(diffs)} (backends ${JSON.stringify(BACKEND)}); top-1 agreement ${agreeTop}/${3 * faces}`,
    );
    expect(faces).toBeGreaterThanOrEqual(20);
    expect(diffs.detectionBox).toBeLessThan(1e-3);
    expect(diffs.pipeline).toBeLessThan(1e-3);
    expect(diffs.squareCrop).toBeLessThan(1e-3);
    expect(agreeTop).toBe(3 * faces);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('cropFace pads with zeros outside the image and keeps the pixel range', () => {
    const before = tf.memory().numTensors;
    const img = tf.fill([10, 20, 3], 200, 'int32') as tf.Tensor3D;
    // box 4×8 at the left edge: square side 8 centred on (2, 5) → x from -2 to 6
    const crop = cropFace(img, { x: 0, y: 1, width: 4, height: 8 }, 8);
    expect(crop.shape).toEqual([8, 8, 3]);
    const v = crop.arraySync();
    expect(v[4]?.[0]?.[0]).toBe(0);
    expect(v[4]?.[1]?.[0]).toBe(0);
    expect(v[4]?.[4]?.[0]).toBeCloseTo(200, 4);
    const outside = cropFace(img, { x: 100, y: 100, width: 5, height: 5 }, 4);
    const peak = tf.max(outside);
    expect(peak.arraySync()).toBe(0);
    tf.dispose([img, crop, outside, peak]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
