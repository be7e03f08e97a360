/**
 * face-api's own detector, run in this process on the wasm backend, finds the faces that
 * assets/sample-faces.json recorded (made by scripts/detect-sample-faces.mjs in a separate process
 * on the cpu backend) on face-api's six sample photos; a photo without faces gives none.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, readImage } from '@saliency/node';
import { detectFaces, releaseFaceDetector, sampleFaces } from '@saliency/models';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', quiet: true });
});

describe('detectFaces (face-api SSD MobileNetV1 on the current backend)', () => {
  it('finds the recorded faces of every sample photo: same count, boxes within 1 px, scores within 0.002; no tensors left', async () => {
    const before = tf.memory().numTensors;
    let faces = 0;
    let loaded = -1; // tensors after the first call: the detector's weights, then nothing more
    for (const sample of sampleFaces()) {
      const found = await detectFaces(await readImage(sample.path));
      expect(found.length, sample.file).toBe(sample.faces.length);
      found.forEach((f, i) => {
        const want = sample.faces[i];
        for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(f.box[k] - want.box[k]), `${sample.file} face ${i} ${k}`).toBeLessThanOrEqual(1);
        expect(Math.abs(f.score - want.score)).toBeLessThanOrEqual(0.002);
        expect(Number.isInteger(f.box.x) && Number.isInteger(f.box.width)).toBe(true);
      });
      faces += found.length;
      if (loaded < 0) loaded = tf.memory().numTensors;
      expect(tf.memory().numTensors).toBe(loaded);
    }
    expect(faces).toBeGreaterThanOrEqual(20);
    await releaseFaceDetector();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('finds no face in an image without one, and rejects bad input with a code', async () => {
    const w = 320, h = 240;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251; // a fixed texture, no face
    expect(await detectFaces({ data, width: w, height: h })).toEqual([]);
    await expect(detectFaces({ data, width: w + 1, height: h })).rejects.toMatchObject({ code: 'BAD_CHANNELS' });
    await expect(detectFaces({ data, width: w, height: h }, { minConfidence: 2 })).rejects.toMatchObject({ code: 'BAD_OPTION' });
  });
});
