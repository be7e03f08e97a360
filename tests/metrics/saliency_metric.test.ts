import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromFunction, type Classifier } from '@saliency/core/base';
import { saliencyMetric, saliencyMetricBoxes } from '@saliency/metrics';
import { useCpu } from '../setup_cpu';

beforeAll(useCpu);

/** p(class 0) = 0.05 + 0.9 · mean(x) exactly (logits [log(q/(1−q)), 0]); input 8×8 RGB in [0, 1]. */
function meanClassifier(onCall?: (n: number) => void): Classifier {
  return fromFunction((x) => {
    onCall?.(x.shape[0]);
    const q = tf.add(0.05, tf.mul(0.9, tf.mean(x, [1, 2, 3])));
    return tf.stack([tf.sub(tf.log(q), tf.log(tf.sub(1, q))), tf.zerosLike(q)], 1) as tf.Tensor2D;
  }, { inputSize: [8, 8], numClasses: 2, channels: 3, preprocess: { inputRange: [0, 1] } });
}

/** A 16×16 black image with white pixels where `white(y, x)`. */
function picture(white: (y: number, x: number) => boolean): tf.Tensor3D {
  const d = new Float32Array(16 * 16 * 3);
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) if (white(y, x)) d.fill(1, (y * 16 + x) * 3, (y * 16 + x) * 3 + 3);
  return tf.tensor3d(d, [16, 16, 3]);
}
const block = (y: number, x: number) => y >= 4 && y < 8 && x >= 2 && x < 10; // rows 4…7, columns 2…9: 32 px

describe('saliencyMetric', () => {
  it('crops the box from the mask, classifies the crop, and returns log(max(a, 0.05)) − log(p)', async () => {
    const classifier = meanClassifier();
    const image = picture(block);
    const map = tf.tensor2d(Float32Array.from({ length: 256 }, (_, i) => (block(Math.floor(i / 16), i % 16) ? 0.9 : 0.1)), [16, 16]);
    const before = tf.memory().numTensors;
    const r = await saliencyMetric(classifier, image, map, 0);
    expect(tf.memory().numTensors).toBe(before);
    // box = the block; its crop is all white → resized all white → p = 0.95; a = 32 / 256
    expect(r.box).toEqual({ x: 2, y: 4, width: 8, height: 4 });
    expect(r.area).toBeCloseTo(0.125, 12);
    expect(r.probability).toBeCloseTo(0.95, 5);
    expect(r.value).toBeCloseTo(Math.log(0.125) - Math.log(0.95), 5);
    // class 1 on the same crop: p = 0.05
    const r1 = await saliencyMetric(classifier, image, map, 1);
    expect(r1.value).toBeCloseTo(Math.log(0.125) - Math.log(0.05), 4);
    // a map at another resolution is resized to the image first (32×32 → the same box)
    const big = tf.image.resizeNearestNeighbor(tf.expandDims(map, 2) as tf.Tensor3D, [32, 32]);
    const big2 = tf.squeeze(big, [2]) as tf.Tensor2D;
    expect((await saliencyMetric(classifier, image, big2, 0)).box).toEqual({ x: 2, y: 4, width: 8, height: 4 });
    tf.dispose([image, map, big, big2]);
  });

  it('credits at least 5 % of the area, and classifies a half-white crop at p = 0.5', async () => {
    const classifier = meanClassifier();
    const image = picture((y, x) => x >= 2); // columns 0, 1 black
    const map = tf.zeros([16, 16]) as tf.Tensor2D;
    // a 2×2 box of white: a = 4/256 < 0.05 → log(0.05) − log(0.95)
    const tiny = await saliencyMetric(classifier, image, map, 0, { box: { x: 5, y: 5, width: 2, height: 2 } });
    expect(tiny.area).toBeCloseTo(4 / 256, 12);
    expect(tiny.value).toBeCloseTo(Math.log(0.05) - Math.log(0.95), 5);
    // columns 0…3 × rows 0…5: [0, 0, 1, 1] per row, resized 4 → 8 columns with half-pixel centres is symmetric → mean 0.5 → p = 0.5
    const half = await saliencyMetric(classifier, image, map, 0, { box: { x: 0, y: 0, width: 4, height: 6 } });
    expect(half.probability).toBeCloseTo(0.5, 5);
    expect(half.value).toBeCloseTo(Math.log(24 / 256) + Math.log(2), 5);
    // a fractional box is snapped outwards to whole pixels and clipped to the image
    const snapped = await saliencyMetric(classifier, image, map, 0, { box: { x: 14.5, y: -3, width: 4, height: 5.2 } });
    expect(snapped.box).toEqual({ x: 14, y: 0, width: 2, height: 3 });
    tf.dispose([image, map]);
  });

  it('saliencyMetricBoxes: one forward pass per batch, the same numbers as one box at a time', async () => {
    const sizes: number[] = [];
    const classifier = meanClassifier((n) => sizes.push(n));
    const image = picture((y, x) => (x * 7 + y * 3) % 5 < 2);
    const boxes = Array.from({ length: 7 }, (_, i) => ({ x: i, y: 2 * i % 9, width: 3 + i, height: 7 - (i % 3) }));
    const before = tf.memory().numTensors;
    const all = await saliencyMetricBoxes(classifier, image, boxes, 0, { batchSize: 3 });
    expect(sizes).toEqual([3, 3, 1]);
    expect(tf.memory().numTensors).toBe(before);
    const map = tf.zeros([16, 16]) as tf.Tensor2D;
    for (let i = 0; i < boxes.length; i++) {
      const one = await saliencyMetric(classifier, image, map, 0, { box: boxes[i] });
      expect(all[i].value).toBeCloseTo(one.value, 5);
      // independent check of p: mean of the bilinear-resized crop
      const crop = tf.image.resizeBilinear(tf.slice(image, [boxes[i].y, boxes[i].x, 0], [boxes[i].height, boxes[i].width, 3]), [8, 8], false, true);
      const m = tf.mean(crop);
      expect(all[i].probability).toBeCloseTo(0.05 + 0.9 * (await m.data())[0], 5);
      tf.dispose([crop, m]);
    }
    tf.dispose([image, map]);
  });

  it('rejects bad input and leaks nothing', async () => {
    const classifier = meanClassifier();
    const image = picture(block);
    const map = tf.ones([16, 16]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    await expect(saliencyMetric(classifier, image, map, 5)).rejects.toMatchObject({ code: 'BAD_TARGET' });
    await expect(saliencyMetric(classifier, image, map, 0, { threshold: 2 })).rejects.toMatchObject({ code: 'BAD_OPTION' }); // empty mask
    await expect(saliencyMetric(classifier, image, map, 0, { box: { x: 20, y: 0, width: 3, height: 3 } })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(saliencyMetricBoxes(classifier, image, [{ x: 0, y: 0, width: -1, height: 3 }], 0)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    const controller = new AbortController();
    controller.abort();
    await expect(saliencyMetricBoxes(classifier, image, [{ x: 0, y: 0, width: 3, height: 3 }], 0, { signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([image, map]);
  });
});
