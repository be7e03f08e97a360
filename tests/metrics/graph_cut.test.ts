import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { graphCutBox, iou, type Box } from '@saliency/metrics';
import { rng, useCpu } from '../setup_cpu';
import { preloadOpenCv } from './opencv_preload';

beforeAll(async () => {
  await useCpu();
  await preloadOpenCv(); // vitest only: see opencv_preload.ts
});

const H = 64, W = 72;
const OBJECT: Box = { x: 18, y: 12, width: 30, height: 22 };
const inObject = (y: number, x: number) => x >= OBJECT.x && x < OBJECT.x + OBJECT.width && y >= OBJECT.y && y < OBJECT.y + OBJECT.height;

/** A small patch of the object's colour elsewhere (rows 48…53, columns 55…62): a distractor. */
const inDistractor = (y: number, x: number) => x >= 55 && x < 63 && y >= 48 && y < 54;

/**
 * A noisy reddish object on a noisy background of two bluish-grey halves, with a distractor patch of the
 * object's colour; values in [0, scale].
 */
function scene(seed: number, scale = 1): tf.Tensor3D {
  const r = rng(seed);
  const d = new Float32Array(H * W * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const base = inObject(y, x) || inDistractor(y, x) ? [0.75, 0.3, 0.25] : x < 40 ? [0.35, 0.4, 0.6] : [0.45, 0.45, 0.5];
      for (let c = 0; c < 3; c++) d[(y * W + x) * 3 + c] = scale * Math.min(1, Math.max(0, base[c] + 0.2 * (r() - 0.5)));
    }
  }
  return tf.tensor3d(d, [H, W, 3]);
}

/**
 * An imperfect map: a Gaussian blob off the object's centre by (6, 4) px and narrower than the object,
 * plus uniform noise — its top 5 % lie inside the object, but thresholding it would not give the object's box.
 */
function noisyMap(seed: number): tf.Tensor2D {
  const r = rng(seed);
  const cx = OBJECT.x + OBJECT.width / 2 + 6, cy = OBJECT.y + OBJECT.height / 2 + 4;
  return tf.tensor2d(Float32Array.from({ length: H * W }, (_, i) => {
    const y = Math.floor(i / W), x = i % W;
    return Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 7 ** 2)) + 0.25 * r();
  }), [H, W]);
}

describe('graphCutBox', () => {
  it('recovers the object box (IoU ≥ 0.8) from a noisy, off-centre map through the colour model', async () => {
    const image = scene(1);
    const map = noisyMap(2);
    const before = tf.memory().numTensors;
    const box = await graphCutBox(image, map);
    expect(tf.memory().numTensors).toBe(before);
    expect(box).not.toBeNull();
    const score = iou(box as Box, OBJECT);
    expect(score, JSON.stringify(box)).toBeGreaterThanOrEqual(0.8);
    // the map alone (box of its pixels above the mean) is much worse: the graph cut is doing the work
    const vals = (await map.data()) as Float32Array;
    const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
    let x0 = W, y0 = H, x1 = -1, y1 = -1;
    vals.forEach((v, i) => { if (v >= 0.5 + mean) { const y = Math.floor(i / W), x = i % W; x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); } });
    expect(iou({ x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 }, OBJECT)).toBeLessThan(score - 0.2);
    // GrabCut refinement rounds keep the object
    expect(iou((await graphCutBox(image, map, { iterations: 4 })) as Box, OBJECT)).toBeGreaterThanOrEqual(0.8);
    // hard seeds: background seeds of the noisy map fall inside the object and split it (documented)
    const hard = await graphCutBox(image, map, { hardSeeds: true });
    expect(iou(hard as Box, OBJECT)).toBeLessThan(score - 0.1);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([image, map]);
  });

  it('reads 0–255 images (auto range) and maps of another size; a flat map gives null', async () => {
    const image = scene(3, 255);
    const map = noisyMap(4);
    const small = tf.image.resizeBilinear(tf.expandDims(map, 2) as tf.Tensor3D, [32, 36], false, true);
    const small2 = tf.squeeze(small, [2]) as tf.Tensor2D;
    const box = await graphCutBox(image, small2, { iterations: 3 });
    expect(iou(box as Box, OBJECT)).toBeGreaterThanOrEqual(0.8);
    const flat = tf.fill([H, W], 0.5) as tf.Tensor2D;
    expect(await graphCutBox(image, flat)).toBeNull();
    tf.dispose([image, map, small, small2, flat]);
  });

  it('rejects bad input with SaliencyError codes', async () => {
    const rgba = tf.zeros([8, 8, 4]) as tf.Tensor3D;
    const image = tf.zeros([8, 8, 3]) as tf.Tensor3D;
    const map = tf.zeros([8, 8]) as tf.Tensor2D;
    await expect(graphCutBox(rgba, map)).rejects.toMatchObject({ code: 'BAD_CHANNELS' });
    await expect(graphCutBox(image, tf.zeros([1, 8, 8]) as unknown as tf.Tensor2D)).rejects.toMatchObject({ code: 'BAD_RANK' });
    await expect(graphCutBox(image, map, { foregroundQuantile: 0.2, backgroundQuantile: 0.3 })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(graphCutBox(image, map, { iterations: 0 })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    tf.dispose([rgba, image, map]);
  });
});
