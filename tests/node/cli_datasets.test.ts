/**
 * `saliency explain` and `saliency eval` on datasets from disk: the generated scenes exported as a
 * Pascal VOC folder, explained and evaluated with the bundled digit CNN through the CLI, must give
 * the same maps as the API and the same metrics as the bundled evaluation of the same scenes; the
 * face model finds faces with face-api's detector and never explains a face-less photo as a face.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, gradCam } from '@saliency/core';
import { initBackend, readImage, runCli } from '@saliency/node';
import { GENERATED_CNN_CAM_LAYER, loadGeneratedClassifier, sampleFaces } from '@saliency/models';
import { exportGeneratedDatasets, readDataset, runEvaluation } from '@saliency/eval';
import type { EvalRecord } from '../../packages/eval/src/records.js';

const dir = mkdtempSync(join(tmpdir(), 'saliency-cli-data-'));
let voc: string;
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const readRecords = (d: string): EvalRecord[] =>
  readFileSync(join(d, 'records.jsonl'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as EvalRecord);

beforeAll(async () => {
  // The bundled evaluation's generated scenes (same seed, split and size), written as VOC and COCO.
  voc = (await exportGeneratedDatasets(join(dir, 'generated'), { count: 2 })).voc.spec;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('saliency explain on datasets from disk', () => {
  it('--dataset voc: explains every (image, class) item; each map equals the API map for that class', async () => {
    const out = join(dir, 'explain-voc');
    const lines: string[] = [];
    expect(await runCli(['explain', '--dataset', voc, '--model', 'digits', '--method', 'gradcam', '--backend', 'cpu', '--out', out], (l) => lines.push(l))).toBe(0);
    const { items } = await readDataset(voc, { labels: DIGITS });
    expect(lines.join('\n')).toContain(`--dataset ${voc}: ${items.length} item(s)`);
    const model = await loadGeneratedClassifier();
    try {
      for (const item of items) {
        const stem = item.imagePath.split('/').pop()!.replace(/\.png$/, '');
        const file = join(out, `${stem}.${DIGITS[item.target as number]}.gradcam.map.png`);
        const summary = JSON.parse(readFileSync(file.replace(/\.map\.png$/, '.json'), 'utf8'));
        expect(summary.target.index).toBe(item.target);
        const map = await explain(gradCam({ layer: GENERATED_CNN_CAM_LAYER }), model.classifier, await readImage(item.imagePath), { target: item.target });
        const want = tf.tidy(() => tf.cast(tf.round(tf.mul(map, 255)), 'int32'));
        const wantBytes = Uint8Array.from(await want.data());
        tf.dispose([map, want]);
        const got = await sharp(file).extractChannel(0).raw().toBuffer();
        expect(Buffer.from(got).equals(Buffer.from(wantBytes))).toBe(true);
      }
    } finally {
      model.dispose();
    }
  });

  it('--images <folder> --target 3: every image, explained for class 3', async () => {
    const out = join(dir, 'explain-images');
    expect(await runCli(['explain', '--images', join(dir, 'generated', 'voc', 'JPEGImages'), '--target', '3', '--model', 'digits', '--backend', 'cpu', '--out', out], () => undefined)).toBe(0);
    const summaries = readdirSync(out).filter((f) => f.endsWith('.json'));
    expect(summaries.length).toBe(2);
    for (const f of summaries) expect(JSON.parse(readFileSync(join(out, f), 'utf8')).target.index).toBe(3);
  });

  it('face model without --box: explains the faces face-api finds, and a photo without a face not at all', async () => {
    const out = join(dir, 'explain-faces');
    const blank = join(dir, 'texture.png');
    const w = 320, h = 240;
    const px = Buffer.alloc(w * h * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 7919) % 251;
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(blank);
    const sample = sampleFaces()[1];
    const lines: string[] = [];
    expect(await runCli(['explain', blank, sample.path, '--backend', 'wasm', '--out', out], (l) => lines.push(l))).toBe(0);
    const text = lines.join('\n');
    expect(text).toContain(`${blank}: face-api's detector (SSD MobileNetV1, confidence ≥ 0.5) found no face; not explained`);
    expect(text).toContain(`${sample.path} face ${sample.faces.length} [box `);
    const files = readdirSync(out).filter((f) => f.endsWith('.json'));
    expect(files.some((f) => f.startsWith('texture'))).toBe(false);
    expect(files.length).toBe(sample.faces.length);
    for (const f of files) {
      const s = JSON.parse(readFileSync(join(out, f), 'utf8'));
      const match = sample.faces.find((face) => Math.abs(face.box.x - s.region.x) <= 1 && Math.abs(face.box.y - s.region.y) <= 1);
      expect(match, f).toBeDefined();
    }
  });
});

describe('saliency eval --dataset', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm', quiet: true });
  });

  it('on the exported VOC scenes gives the same pointing, IoU, saliency metric and insertion/deletion as the bundled generated set', async () => {
    const outData = join(dir, 'eval-voc');
    const outBundled = join(dir, 'eval-bundled');
    const lines: string[] = [];
    const before = tf.memory().numTensors;
    expect(await runCli(['eval', '--dataset', voc, '--model', 'digits', '--methods', 'gradcam', '--no-sess', '--backend', 'wasm', '--out', outData], (l) => lines.push(l))).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    // The same run in this process (the classifier the CLI loaded is used for the jobs): the same records.
    const outInProcess = join(dir, 'eval-voc-in-process');
    expect(await runCli(['eval', '--dataset', voc, '--model', 'digits', '--methods', 'gradcam', '--no-sess', '--backend', 'wasm', '--workers', '0', '--out', outInProcess], () => undefined)).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const strip = (rs: ReturnType<typeof readRecords>) => rs.map((r) => ({ ...r, ms: null }));
    expect(strip(readRecords(outInProcess))).toEqual(strip(readRecords(outData)));
    await runEvaluation({ sets: ['generated'], methods: ['gradcam'], sess: false, limit: 2, out: outBundled });
    const { items } = await readDataset(voc, { labels: DIGITS });
    const fromData = readRecords(outData);
    expect(fromData.filter((r) => r.variant === 'gradcam').length).toBe(items.length);
    expect(fromData.filter((r) => r.variant === 'gt-box').length).toBe(items.length);
    const bundled = readRecords(outBundled).filter((r) => r.variant === 'gradcam');
    expect(bundled.length).toBe(2);
    for (const b of bundled) {
      const d = fromData.find((r) => r.variant === 'gradcam' && r.itemId === `${b.itemId}_${b.target}`);
      expect(d, b.itemId).toBeDefined();
      expect(d!.target).toBe(b.target);
      expect(d!.hit).toBe(b.hit);
      expect(d!.iou).toBe(b.iou);
      expect(d!.saliencyMetric).toBe(b.saliencyMetric);
      expect(d!.insertion).toBe(b.insertion);
      expect(d!.deletion).toBe(b.deletion);
    }
    const results = JSON.parse(readFileSync(join(outData, 'results.json'), 'utf8')) as { rows: { set: string; variant: string; images: number; difficultImages: number; pointing: number | null }[] };
    const row = results.rows.find((r) => r.variant === 'gradcam')!;
    expect(row.set).toBe('dataset');
    expect(row.images).toBe(items.length);
    expect(row.difficultImages).toBe(items.filter((i) => i.difficultSubset).length);
    expect(row.pointing).not.toBeNull();
    expect(existsSync(join(outData, 'index.html'))).toBe(true);
  });

  it('a broken dataset gives a coded error, not a crash', async () => {
    await expect(runCli(['eval', '--dataset', `voc:${join(dir, 'nowhere')}`, '--model', 'digits', '--backend', 'wasm', '--out', join(dir, 'x')], () => undefined))
      .rejects.toMatchObject({ code: 'BAD_DATASET' });
  });
});
