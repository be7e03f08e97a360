/**
 * Patch cutting on the device (internal to @saliency/sess): one cropAndResize per scale with
 * pixel-aligned boxes must equal exact crops of the scaled image, on wasm (the default Node
 * backend, whose CropAndResize misreads boxes starting at 0) and on cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@saliency/node';
import { sessPatches, sessScales } from '@saliency/sess';
import { cutPatches, ScaledImages } from '../../packages/sess/src/patches';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', quiet: true });
});

describe('cutPatches', () => {
  it.each(['wasm', 'cpu'])('equals exact slices of the resized image for every patch of 12 scales (%s)', async (backend) => {
    await tf.setBackend(backend);
    for (const [h, w, k, c] of [[375, 500, 224, 3], [224, 224, 112, 3], [90, 70, 32, 1]] as const) {
      const image = tf.randomUniform([1, h, w, c], 0, 255, 'float32', h + w) as tf.Tensor4D;
      const patches = sessPatches([h, w], { scales: sessScales(k, 12), window: [k, k], step: [k, k] });
      // The scaled images, read back once per scale: the exact crops are cut from these in JS.
      const copies = new Map<number, Float32Array>();
      for (const p of patches) {
        if (!copies.has(p.scaleIndex)) {
          const t = tf.image.resizeBilinear(image, [p.scaledSize[0], p.scaledSize[1]], false, true);
          copies.set(p.scaleIndex, t.dataSync() as Float32Array); // (read outside tf.tidy, which would walk the array)
          t.dispose();
        }
      }
      const before = tf.memory().numTensors;
      const scaled = new ScaledImages(image);
      let worst = 0;
      for (let s = 0; s < patches.length; s += 16) {
        const batch = patches.slice(s, s + 16);
        const got = cutPatches(scaled, batch, [k, k]);
        expect(got.shape).toEqual([batch.length, k, k, c]);
        const g = got.dataSync();
        got.dispose();
        batch.forEach((p, b) => {
          const src = copies.get(p.scaleIndex) as Float32Array;
          const sw = p.scaledSize[1];
          for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) for (let ch = 0; ch < c; ch++) {
            const d = Math.abs(g[((b * k + y) * k + x) * c + ch] - src[((p.top + y) * sw + p.left + x) * c + ch]);
            if (d > worst) worst = d;
          }
        });
        await new Promise((r) => setTimeout(r, 0));
      }
      scaled.dispose();
      expect(tf.memory().numTensors).toBe(before);
      // Float32 rounding of the box coordinates only: well below one grey level of 0–255 data.
      expect(worst).toBeLessThan(0.05);
      image.dispose();
    }
  });

  it('resizes windows that differ from the model input, and cuts a whole-image window exactly', async () => {
    await tf.setBackend('wasm');
    const image = tf.randomUniform([1, 40, 40, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const scaled = new ScaledImages(image);
    const whole = cutPatches(scaled, [{ scaleIndex: 0, scale: 40, scaledSize: [40, 40], top: 0, left: 0, window: [40, 40] }], [40, 40]);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(whole, image))).dataSync()[0])).toBe(0);
    const resized = cutPatches(scaled, [{ scaleIndex: 0, scale: 40, scaledSize: [40, 40], top: 0, left: 0, window: [40, 40] }], [16, 16]);
    const want = tf.image.resizeBilinear(image, [16, 16], false, true);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(resized, want))).dataSync()[0])).toBeLessThan(1e-6);
    tf.dispose([whole, resized, want, image]);
    scaled.dispose();
  });
});
