// The face masker: its training data (jittered crops of the sample faces, labelled by the classifier
// itself), training on it with `trainMasker({ set: 'faces' })`, and the bundled maskers' loader, with
// the committed face masker checked on the faces of the held-out photograph.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMaskingModel, maskingModel, type MaskingSample } from '@saliency/core';
import { fileHandler, initBackend, readImage } from '@saliency/node';
import {
  cropFace, findAsset, hasBundledMasker, loadBundledMasker, loadFaceExpressionClassifier, loadGeneratedClassifier, sampleFaces,
  type BundledClassifier,
} from '@saliency/models';
import { FACE_MASKER_HOLDOUT, FACE_MASKER_TRAINING, faceMaskingData, trainMasker } from '@saliency/eval';

async function take(it: AsyncGenerator<MaskingSample>, n: number): Promise<MaskingSample[]> {
  const out: MaskingSample[] = [];
  for (let i = 0; i < n; i++) out.push((await it.next()).value as MaskingSample);
  await it.return(undefined);
  return out;
}

describe('face masker', () => {
  let face: BundledClassifier;
  let start: number;
  const dirs: string[] = [];
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm', quiet: true });
    start = tf.memory().numTensors;
    face = await loadFaceExpressionClassifier();
  });
  afterAll(() => {
    face.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    expect(tf.memory().numTensors).toBe(start);
  });

  it("yields 112² crops in 0–255 labelled with the classifier's own top class, the same stream for the same seed", async () => {
    const before = tf.memory().numTensors;
    const a = await take(faceMaskingData(face.classifier, { seed: 4 }), 6);
    const b = await take(faceMaskingData(face.classifier, { seed: 4 }), 6);
    const c = await take(faceMaskingData(face.classifier, { seed: 5 }), 6);
    for (const [i, s] of a.entries()) {
      expect(s.image.shape).toEqual([112, 112, 3]);
      const [lo, hi] = tf.tidy(() => [tf.min(s.image).dataSync()[0], tf.max(s.image).dataSync()[0]]);
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(255);
      expect(hi - lo).toBeGreaterThan(50); // a photograph, not a blank
      // Independent truth: the class the classifier's probabilities rank first on this very crop.
      const probs = tf.tidy(() => face.classifier.probabilities(tf.expandDims(s.image, 0) as tf.Tensor4D).dataSync());
      expect(s.label).toEqual([probs.indexOf(Math.max(...probs))]);
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(s.image, b[i].image))).dataSync()[0])).toBe(0);
    }
    const differ = a.some((s, i) => tf.tidy(() => tf.max(tf.abs(tf.sub(s.image, c[i].image))).dataSync()[0]) > 0);
    expect(differ).toBe(true);
    tf.dispose([...a, ...b, ...c].map((s) => s.image));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an empty photograph list is a coded error; the held-out photograph alone is a valid source', async () => {
    await expect(take(faceMaskingData(face.classifier, { images: [] }), 1)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    const held = sampleFaces().filter((s) => s.file === FACE_MASKER_HOLDOUT);
    expect(held).toHaveLength(1);
    const [s] = await take(faceMaskingData(face.classifier, { images: held, seed: 2 }), 1);
    expect(s.image.shape).toEqual([112, 112, 3]);
    s.image.dispose();
  });

  it("trains on the faces with FACE_MASKER_TRAINING's architecture and saves a model that loads back identically", async () => {
    const out = mkdtempSync(join(tmpdir(), 'face-masker-'));
    dirs.push(out);
    const { model, result } = await trainMasker(face.classifier, { set: 'faces', steps: 2, batchSize: 2, out });
    expect(result.steps).toBe(2);
    expect(model.config.encoderLayers).toEqual([...FACE_MASKER_TRAINING.encoderLayers]);
    expect(model.config.upsamplerChannels).toEqual([FACE_MASKER_TRAINING.upsamplerChannels]);
    expect(model.config.upsampler).toBe(FACE_MASKER_TRAINING.upsampler);
    const again = await loadMaskingModel(face.classifier, fileHandler(out));
    const x = tf.randomUniform([2, 112, 112, 3], 0, 255, 'float32', 3) as tf.Tensor4D;
    const [m1, m2] = [model.masks(x, [1, 4]), again.masks(x, [1, 4])];
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(m1, m2))).dataSync()[0])).toBe(0);
    tf.dispose([x, m1, m2]);
    model.dispose();
    again.dispose();
    await expect(trainMasker(face.classifier, { set: 'nope' as 'faces', steps: 1, out })).rejects.toMatchObject({ code: 'BAD_OPTION' });
  });

  it('the bundled loader gives the masks of loadMaskingModel on the same files; unknown names are coded errors', async () => {
    expect(hasBundledMasker('digits')).toBe(true);
    expect(hasBundledMasker('face')).toBe(true);
    expect(hasBundledMasker('mobilenet')).toBe(false);
    expect(hasBundledMasker('constructor')).toBe(false);
    await expect(loadBundledMasker('mobilenet' as 'face', face.classifier)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    const digits = await loadGeneratedClassifier();
    try {
      for (const [name, asset, c] of [['digits', 'masker-digits', digits], ['face', 'masker-faces', face]] as const) {
        const [H, W] = c.classifier.inputSize;
        const x = tf.randomUniform([2, H, W, 3], 0, 255, 'float32', 8) as tf.Tensor4D;
        const a = await loadBundledMasker(name, c.classifier);
        const b = await loadMaskingModel(c.classifier, fileHandler(findAsset(asset)));
        const [ma, mb] = [a.masks(x, [0, 1]), b.masks(x, [0, 1])];
        expect(tf.tidy(() => tf.max(tf.abs(tf.sub(ma, mb))).dataSync()[0])).toBe(0);
        tf.dispose([x, ma, mb]);
        a.dispose();
        b.dispose();
      }
    } finally {
      digits.dispose();
    }
  });

  it("the committed face masker, on the held-out photograph's faces: more mask for the class the classifier reads than for the class it rules out", async () => {
    const masker = await loadBundledMasker('face', face.classifier);
    const held = sampleFaces().find((s) => s.file === FACE_MASKER_HOLDOUT)!;
    const decoded = await readImage(held.path);
    const full = tf.tensor3d(decoded.data, [decoded.height, decoded.width, 3], 'int32');
    const faces = tf.tidy(() => tf.stack(held.faces.map((f) => cropFace(full, f.box))) as tf.Tensor4D);
    full.dispose();
    const probs = tf.tidy(() => face.classifier.probabilities(faces).arraySync() as number[][]);
    const top = probs.map((p) => p.indexOf(Math.max(...p)));
    const least = probs.map((p) => p.indexOf(Math.min(...p)));
    const method = maskingModel(masker);
    const [mTop, mLeast, mAuto] = [await method.explain(face.classifier, faces, top), await method.explain(face.classifier, faces, least), await method.explain(face.classifier, faces, 'top')];
    const meanTop = tf.tidy(() => tf.mean(mTop, [1, 2]).arraySync() as number[]);
    const meanLeast = tf.tidy(() => tf.mean(mLeast, [1, 2]).arraySync() as number[]);
    for (let i = 0; i < held.faces.length; i++) expect(meanTop[i]).toBeGreaterThan(meanLeast[i]);
    // 'top' reads the class from the encoder's own pass: the same masks as the classes given.
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(mTop, mAuto))).dataSync()[0])).toBeLessThan(1e-6);
    tf.dispose([faces, mTop, mLeast, mAuto]);
    masker.dispose();
  });
});
