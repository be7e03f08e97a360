/**
 * The real-time masking model (Dabkowski & Gal 2017), trained for real on the wasm
 * backend (the default Node backend; training on the cpu backend is ~20× slower) on
 * images of a bright square, with a small analytic conv classifier whose class-0
 * evidence is exactly the square (tests/methods/masking_fixtures.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFunction } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { createMaskingModel, type MaskingModel } from '../../packages/methods/src/masking/architecture';
import { trainMaskingModel, type TrainMaskingOptions } from '../../packages/methods/src/masking/train';
import { loadMaskingModel, saveMaskingModel } from '../../packages/methods/src/masking/io';
import { maskingModel } from '../../packages/methods/src/masking/method';
import { maxAbsDiff } from '../setup_cpu';
import { boxFromMap, heldOut, iouWithSquare, SIDE, squareClassifier, squareData, squareImage, randomSquare, type Square } from './masking_fixtures';

/** Keeps the last artifacts saved; load() returns them (what indexeddb:// does in a browser). */
function memoryHandler(): tf.io.IOHandler & { saved: number } {
  let last: tf.io.ModelArtifacts | null = null;
  const h = {
    saved: 0,
    async save(a: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      last = a;
      h.saved++;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      if (last == null) throw new Error('nothing saved yet');
      return last;
    },
  };
  return h;
}

/** A minimal Node file IO handler (model.json + weights.bin), as @saliency/node could provide. */
function fileHandler(dir: string): tf.io.IOHandler {
  return {
    async save(a) {
      mkdirSync(dir, { recursive: true });
      const { weightData, weightSpecs, ...rest } = a;
      writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...rest, weightsManifest: [{ paths: ['weights.bin'], weights: weightSpecs }] }));
      writeFileSync(join(dir, 'weights.bin'), Buffer.from(new tf.io.CompositeArrayBuffer(weightData).slice()));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
    async load() {
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      const bin = readFileSync(join(dir, 'weights.bin'));
      const { weightsManifest, ...rest } = json;
      return { ...rest, weightSpecs: weightsManifest[0].weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) };
    },
  };
}

/** Sum of map i inside a square. */
function sumIn(maps: Float32Array, sq: Square, i: number): number {
  let s = 0;
  for (let y = sq.y; y < sq.y + sq.side; y++) for (let x = sq.x; x < sq.x + sq.side; x++) s += maps[i * SIDE * SIDE + y * SIDE + x];
  return s;
}
/** Mean of each map inside its square. */
const inside = (maps: Float32Array, squares: Square[]) => squares.map((sq, i) => sumIn(maps, sq, i) / sq.side ** 2);
/** Mean of each map outside its square. */
const outside = (maps: Float32Array, squares: Square[]) => squares.map((sq, i) => {
  let all = 0;
  for (let p = 0; p < SIDE * SIDE; p++) all += maps[i * SIDE * SIDE + p];
  return (all - sumIn(maps, sq, i)) / (SIDE * SIDE - sq.side ** 2);
});

const TRAIN: TrainMaskingOptions = {
  // lr 0.015 (15× the reference's 0.001) and fake labels half the time, so 400 steps suffice.
  steps: 400, batchSize: 8, learningRate: 0.015, fakeLabelProb: 0.5, seed: 1, progressEvery: 25,
};

let fixture: ReturnType<typeof squareClassifier>;
let model: MaskingModel;
let tensorsDuringTraining: number[] = [];
let tensorsAfterCreate = 0;
let tensorsAfterTraining = 0;
let classifierWeightsMoved = NaN;

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', quiet: true });
  fixture = squareClassifier();
  const weightsBefore = fixture.model.getWeights().map((w) => w.clone());
  model = createMaskingModel(fixture.classifier, { encoderLayers: ['c1', 'c2', 'c3'], upsamplerChannels: 8, seed: 1 });
  tensorsAfterCreate = tf.memory().numTensors;
  await trainMaskingModel(model, squareData(1), { ...TRAIN, onProgress: () => tensorsDuringTraining.push(tf.memory().numTensors) });
  tensorsAfterTraining = tf.memory().numTensors;
  classifierWeightsMoved = Math.max(...fixture.model.getWeights().map((w, i) => maxAbsDiff(w, weightsBefore[i])));
  tf.dispose(weightsBefore);
});
afterAll(() => {
  model?.dispose();
  fixture?.model.dispose();
});

describe('trained masking model', () => {
  it('trains without leaking (constant tensor count every report), never touching the classifier', () => {
    expect(tensorsDuringTraining.length).toBe(16);
    expect(new Set(tensorsDuringTraining).size).toBe(1);
    expect(tensorsAfterTraining).toBe(tensorsAfterCreate);
    expect(classifierWeightsMoved).toBe(0);
    expect(model.steps).toBe(400);
  });

  it('localises the square on held-out images: box of the mask (mean threshold, largest component) has IoU ≥ 0.5', () => {
    const { images, squares } = heldOut(12, 5);
    const masks = model.masks(images, new Array(12).fill(0));
    const d = masks.dataSync() as Float32Array;
    const ious = squares.map((sq, i) => iouWithSquare(boxFromMap(d.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE), SIDE, SIDE), sq));
    expect(Math.min(...ious)).toBeGreaterThanOrEqual(0.5); // measured: 0.64…1.00, mean 0.83
    // The mask keeps the square and drops the rest.
    const ins = inside(d, squares), outs = outside(d, squares);
    for (let i = 0; i < 12; i++) expect(ins[i]).toBeGreaterThan(10 * outs[i]);
    expect(Math.max(...outs)).toBeLessThan(0.05);
    tf.dispose([images, masks]);
  });

  it('a fake label (the class is not in the image) gives an empty mask', () => {
    const { images, squares } = heldOut(12, 6);
    const fake = model.masks(images, new Array(12).fill(1));
    const real = model.masks(images, new Array(12).fill(0));
    expect(tf.tidy(() => tf.mean(fake).dataSync()[0])).toBeLessThan(0.1);
    expect(Math.max(...inside(fake.dataSync() as Float32Array, squares))).toBeLessThan(0.05);
    expect(Math.min(...inside(real.dataSync() as Float32Array, squares))).toBeGreaterThan(0.25);
    tf.dispose([images, fake, real]);
  });

  it("maskingModel() is a SaliencyMethod: the mask of each image's target, in batches, leak-free", async () => {
    const { images } = heldOut(5, 7);
    const before = tf.memory().numTensors;
    const method = maskingModel(model, { batchSize: 2 });
    expect(method.name).toBe('masking');
    const top = await method.explain(fixture.classifier, images, 'top'); // every image has a square → class 0
    const direct = model.masks(images, [0, 0, 0, 0, 0]);
    expect(maxAbsDiff(top, direct)).toBeLessThan(1e-6);
    const mixed = await maskingModel(model).explain(fixture.classifier, images, [0, 1, 0, 1, 0]);
    const want = model.masks(images, [0, 1, 0, 1, 0]);
    expect(maxAbsDiff(mixed, want)).toBeLessThan(1e-6);
    expect(tf.tidy(() => tf.min(mixed).dataSync()[0])).toBeGreaterThanOrEqual(0);
    expect(tf.tidy(() => tf.max(mixed).dataSync()[0])).toBeLessThanOrEqual(1);
    tf.dispose([top, direct, mixed, want]);
    expect(tf.memory().numTensors).toBe(before);
    await expect(method.explain(fixture.classifier, images, [0, 2, 0, 0, 0])).rejects.toMatchObject({ code: 'BAD_TARGET' });
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
  });

  it('save → load (memory and file IO handlers) gives identical masks; a model for another classifier is refused', async () => {
    const { images } = heldOut(4, 8);
    const want = model.masks(images, [0, 1, 0, 0]);
    const mem = memoryHandler();
    await saveMaskingModel(model, mem);
    const dir = mkdtempSync(join(tmpdir(), 'masking-'));
    try {
      await saveMaskingModel(model, fileHandler(dir));
      for (const source of [mem, fileHandler(dir)]) {
        const before = tf.memory().numTensors;
        const loaded = await loadMaskingModel(fixture.classifier, source);
        expect(loaded.steps).toBe(400);
        expect(loaded.config).toEqual(model.config);
        const got = loaded.masks(images, [0, 1, 0, 0]);
        expect(maxAbsDiff(got, want)).toBe(0);
        got.dispose();
        loaded.dispose();
        expect(tf.memory().numTensors).toBe(before);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const other = fromFunction((x) => tf.reshape(tf.mean(x, [1, 2, 3]), [-1, 1]).concat(tf.zeros([x.shape[0], 2]), 1) as tf.Tensor2D, {
      inputSize: [SIDE, SIDE], channels: 1, numClasses: 3, preprocess: { inputRange: [0, 1] },
    });
    const before = tf.memory().numTensors;
    await expect(loadMaskingModel(other, mem)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(loadMaskingModel(fixture.classifier, { load: async () => ({ modelTopology: { format: 'other' } }) })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(saveMaskingModel(model, 'nowhere://x')).rejects.toMatchObject({ code: 'BAD_OPTION' });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([images, want]);
  });
});

describe('checkpoints, abort and bad input', () => {
  /** Every pass yields the same 4 images, so every step sees the same batch and runs are comparable. */
  const fixed = () => [0, 1, 2, 3].map((i) => {
    const sq = i === 3 ? null : randomSquare(50 + i);
    return { image: tf.tensor3d(squareImage(50 + i, sq), [SIDE, SIDE, 1]), label: sq == null ? 1 : 0 };
  });
  const small = () => createMaskingModel(fixture.classifier, { encoderLayers: ['c2', 'c3'], upsamplerChannels: 4, seed: 3 });
  const opts: TrainMaskingOptions = { steps: 12, batchSize: 4, learningRate: 0.01, seed: 2, progressEvery: 1, checkpointEvery: 4 };
  const weightsOf = (m: MaskingModel) => [...m.weights.values()].map((v) => Array.from(v.dataSync()));

  it('an aborted run resumed from its checkpoint ends with the weights of an uninterrupted run', async () => {
    const a = small();
    const ra = await trainMaskingModel(a, fixed, opts);
    expect(ra).toMatchObject({ steps: 12, resumedFrom: 0 });

    const b = small();
    const ckpt = memoryHandler();
    const ctrl = new AbortController();
    const before = tf.memory().numTensors;
    await expect(trainMaskingModel(b, fixed, { ...opts, checkpoint: ckpt, signal: ctrl.signal, onProgress: (p) => { if (p.done === 6) ctrl.abort(); } }))
      .rejects.toMatchObject({ code: 'ABORTED' });
    expect(tf.memory().numTensors).toBe(before);
    expect(ckpt.saved).toBe(1); // after step 4
    expect(b.steps).toBe(6);
    const rb = await trainMaskingModel(b, fixed, { ...opts, checkpoint: ckpt });
    expect(rb).toMatchObject({ steps: 12, resumedFrom: 4 });
    expect(b.steps).toBe(12);
    expect(weightsOf(b)).toEqual(weightsOf(a));
    expect(ckpt.saved).toBe(3); // after steps 8 and 12
    // The finished run is not repeated.
    const rc = await trainMaskingModel(b, fixed, { ...opts, checkpoint: ckpt });
    expect(rc.resumedFrom).toBe(12);
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
    b.dispose();
  });

  it('reports bad layers, data and labels with codes, leaving no tensor behind', async () => {
    expect(() => createMaskingModel(fixture.classifier, { encoderLayers: ['c9'] })).toThrow(expect.objectContaining({ code: 'UNKNOWN_LAYER' }));
    expect(() => createMaskingModel(fixture.classifier, { encoderLayers: ['c3', 'c2'] })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => createMaskingModel(fixture.classifier, { encoderLayers: ['c2', 'c3'], upsamplerChannels: [4, 4] })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    const m = small();
    const before = tf.memory().numTensors;
    const one = (image: () => tf.Tensor3D, label: number) => () => [{ image: image(), label }];
    await expect(trainMaskingModel(m, one(() => tf.zeros([16, 16, 1]), 0), { steps: 2, batchSize: 2 })).rejects.toMatchObject({ code: 'BAD_SIZE', formerCode: 'BAD_RANK' });
    await expect(trainMaskingModel(m, one(() => tf.zeros([SIDE, SIDE, 3]), 0), { steps: 2, batchSize: 2 })).rejects.toMatchObject({ code: 'BAD_CHANNELS' });
    await expect(trainMaskingModel(m, one(() => tf.zeros([SIDE, SIDE, 1]), 5), { steps: 2, batchSize: 2 })).rejects.toMatchObject({ code: 'BAD_TARGET' });
    await expect(trainMaskingModel(m, () => [], { steps: 2 })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(trainMaskingModel(m, fixed, { steps: 0 })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(trainMaskingModel(m, fixed, { fakeLabelProb: 1.5 })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});
