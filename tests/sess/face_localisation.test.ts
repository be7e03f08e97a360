/**
 * SESS + Grad-CAM on the bundled face-expression model (real weights) with real faces from
 * face-api's demo photos, each pasted at two sizes onto a neutral background. Runs on wasm,
 * the default Node backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, gradCam } from '@saliency/core';
import { FACE_EXPRESSION_CLASSES } from '@saliency/models';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionClassifier, sampleFaces, type BundledClassifier } from '@saliency/models';
import { sess } from '@saliency/sess';
import { peaksOn, type Box } from './synthetic';

let face: BundledClassifier;
beforeAll(async () => {
  expect((await initBackend({ prefer: 'wasm', quiet: true })).name).toBe('wasm');
  face = await loadFaceExpressionClassifier();
});
afterAll(() => face.dispose());

const HAPPY = FACE_EXPRESSION_CLASSES.indexOf('happy');
const [H, W] = [240, 320];
// A 120-pixel and a 76-pixel copy: at the model's 112×112 view of the whole image they are ~50 and ~30 px.
const BOXES: Box[] = [{ x: 24, y: 70, width: 120, height: 120 }, { x: 210, y: 40, width: 76, height: 76 }];

/** The smiling face of `file` nearest to `x`, pasted at both sizes onto gray (120 ± 10 noise), `[H, W, 3]` in 0–255. */
async function composite(file: string, x: number): Promise<tf.Tensor3D> {
  const sample = sampleFaces().find((s) => s.file === file);
  if (sample == null) throw new Error(`no sample ${file}`);
  const f = [...sample.faces].sort((a, b) => Math.abs(a.box.x - x) - Math.abs(b.box.x - x))[0];
  expect(f.expressions.squareCrop[HAPPY]).toBeGreaterThan(0.9);
  const img = await readImage(sample.path, { region: f.box, square: true });
  return tf.tidy(() => {
    const crop = tf.tensor3d(Float32Array.from(img.data), [img.height, img.width, 3]);
    let canvas = tf.add(tf.fill([H, W, 3], 120), tf.randomUniform([H, W, 3], -10, 10, 'float32', 3)) as tf.Tensor3D;
    for (const b of BOXES) {
      const pads: [number, number][] = [[b.y, H - b.y - b.height], [b.x, W - b.x - b.width], [0, 0]];
      const pasted = tf.pad(tf.image.resizeBilinear(crop, [b.height, b.width], false, true), pads);
      canvas = tf.add(pasted, tf.mul(canvas, tf.pad(tf.zeros([b.height, b.width, 3]), pads, 1))) as tf.Tensor3D;
    }
    return canvas;
  });
}

describe('SESS + Grad-CAM on real faces at two sizes (face-expression model, class happy)', () => {
  it.each([['demo/sample1.jpg', 1476], ['demo/sample6.jpg', 680]])('%s face at x≈%i: a local maximum on each copy', async (file, x) => {
    const image = await composite(file, x);
    const before = tf.memory().numTensors;
    const plain = await explain(gradCam({ layer: face.camLayer }), face.classifier, image, { target: HAPPY });
    const withSess = await explain(sess(gradCam({ layer: face.camLayer })), face.classifier, image, { target: HAPPY });
    expect(withSess.shape).toEqual([H, W]);
    const [p, s] = [await plain.data(), await withSess.data()];
    tf.dispose([plain, withSess]);
    expect(tf.memory().numTensors).toBe(before);
    const peaks = (m: ArrayLike<number>) => BOXES.map((b) => peaksOn(m, H, W, b, BOXES.filter((o) => o !== b)));
    console.log(`${file} @${x}: peaks on [120 px, 76 px] faces — Grad-CAM ${peaks(p)}, SESS + Grad-CAM ${peaks(s)}`);
    expect(peaks(s)).toEqual([true, true]);
    image.dispose();
  });
});
