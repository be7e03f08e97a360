/**
 * nsfwjs's MobileNetV2 (layers) and MobileNetV2Mid (graph), loaded our way from
 * the package's shipped files, against nsfwjs's OWN load() + classify(),
 * called live in this process, on neutral photographs (face-api's demo
 * pictures of people).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromGraphModel, fromLayersModel } from '@saliency/core/base';
import { faceApiSampleImages } from '../../packages/models/src/face_expression';
import {
  NSFW_CLASSES,
  NSFW_INPUT_SIZE,
  NSFW_MOBILENET_V2_LAST_CONV_LAYER,
  NSFW_MOBILENET_V2_MID_LAST_CONV_NODE,
  loadNsfwMobileNetV2,
  loadNsfwMobileNetV2Mid,
  preprocessNsfw,
} from '../../packages/models/src/nsfw';

await tf.setBackend('cpu');

/** A neutral photo, centre-cropped and resized to 224×224 by sharp (so nsfwjs does no resize of its own). */
async function readPhoto(path: string): Promise<tf.Tensor3D> {
  const { data, info } = await sharp(path)
    .removeAlpha()
    .resize(NSFW_INPUT_SIZE, NSFW_INPUT_SIZE, { fit: 'cover' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return tf.tensor3d(new Uint8Array(data), [info.height, info.width, 3], 'int32');
}

interface NsfwjsInstance {
  classify(img: tf.Tensor3D, topk?: number): Promise<{ className: string; probability: number }[]>;
  dispose(): void;
}

/** nsfwjs's own classification, as a probability vector in NSFW_CLASSES order. */
async function theirs(net: NsfwjsInstance, img: tf.Tensor3D): Promise<number[]> {
  const top = await net.classify(img, NSFW_CLASSES.length);
  return NSFW_CLASSES.map((c) => top.find((t) => t.className === c)?.probability ?? NaN);
}

function ours(model: LayersModel | GraphModel, imgs: tf.Tensor3D[]): number[][] {
  return tf.tidy(() => (model.predict(preprocessNsfw(tf.stack(imgs) as tf.Tensor4D)) as tf.Tensor2D).arraySync());
}

const top = (p: number[]): string => NSFW_CLASSES[p.indexOf(Math.max(...p))] ?? '?';

function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - (b[i]?.[j] ?? NaN))))));
  return Number.isNaN(m) ? Infinity : m;
}

describe('nsfwjs models loaded from the package files', () => {
  let start: number;
  let photos: tf.Tensor3D[];
  let nsfwjs: { load(name?: string): Promise<NsfwjsInstance> };

  beforeAll(async () => {
    start = tf.memory().numTensors;
    const paths = faceApiSampleImages();
    photos = await Promise.all([paths[0] as string, paths[5] as string].map(readPhoto));
    nsfwjs = (await import('nsfwjs')) as unknown as typeof nsfwjs;
  });

  afterAll(() => {
    tf.dispose(photos);
    expect(tf.memory().numTensors).toBe(start);
  });

  it("MobileNetV2 matches nsfwjs's own load() + classify()", async () => {
    const before = tf.memory().numTensors;
    const model = await loadNsfwMobileNetV2();
    expect(model.inputs[0]?.shape).toEqual([null, 224, 224, 3]);
    expect(model.outputs[0]?.shape).toEqual([null, 5]);
    expect(model.getLayer(NSFW_MOBILENET_V2_LAST_CONV_LAYER).outputShape).toEqual([null, 7, 7, 1280]);
    // at('auto') skips the globally pooled 1×1 output and lands on the last conv block (a constant CAM otherwise).
    expect(fromLayersModel(model).at('auto').name).toBe(NSFW_MOBILENET_V2_LAST_CONV_LAYER);
    const mine = ours(model, photos);
    model.dispose();

    const net = await nsfwjs.load('MobileNetV2');
    const ref: number[][] = [];
    for (const p of photos) ref.push(await theirs(net, p));
    net.dispose();

    const diff = maxAbsDiff(mine, ref);
    console.log(`MobileNetV2: max |Δp| vs nsfwjs = ${diff}; ours ${JSON.stringify(mine)}`);
    expect(diff).toBeLessThan(1e-5);
    // sample1 is 'Neutral' (0.985); NOTE sample6, an ordinary group photo, is 'Porn' 0.51 for this model.
    expect(top(mine[0] as number[])).toBe('Neutral');
    expect(tf.memory().numTensors).toBe(before);
  });

  it("MobileNetV2Mid (graph model) matches nsfwjs's own load() + classify()", async () => {
    const before = tf.memory().numTensors;
    const model = await loadNsfwMobileNetV2Mid();
    expect(model.inputs[0]?.shape).toEqual([-1, 224, 224, 3]);
    const features = tf.tidy(() => model.execute(tf.zeros([1, 224, 224, 3]), NSFW_MOBILENET_V2_MID_LAST_CONV_NODE) as tf.Tensor);
    expect(features.shape).toEqual([1, 7, 7, 1792]);
    features.dispose();
    expect(fromGraphModel(model).at('auto').name).toBe(NSFW_MOBILENET_V2_MID_LAST_CONV_NODE);
    const mine = ours(model, photos);
    model.dispose();

    const net = await nsfwjs.load('MobileNetV2Mid');
    const ref: number[][] = [];
    for (const p of photos) ref.push(await theirs(net, p));
    net.dispose();

    const diff = maxAbsDiff(mine, ref);
    console.log(`MobileNetV2Mid: max |Δp| vs nsfwjs = ${diff}; ours ${JSON.stringify(mine)}`);
    expect(diff).toBeLessThan(1e-5);
    // sample6 is 'Neutral' (0.89); NOTE sample1 is 'Drawing' 0.65 for this model.
    expect(top(mine[1] as number[])).toBe('Neutral');
    expect(tf.memory().numTensors).toBe(before);
  });
});
