/**
 * loadClassifier and `saliency explain --model <dir|model.json>`: nsfwjs's MobileNetV2 (a layers
 * model) and MobileNetV2Mid (a graph model written by tfjs-converter) saved to disk by the test,
 * loaded back from the files, must give the same maps as the same models wrapped through the API.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, fromGraphModel, fromLayersModel, gradCam } from '@saliency/core';
import { fileHandler, loadClassifier, readImage, readLabels, runCli } from '@saliency/node';
import {
  loadNsfwMobileNetV2, loadNsfwMobileNetV2Mid, NSFW_CLASSES, NSFW_MOBILENET_V2_LAST_CONV_LAYER, NSFW_MOBILENET_V2_MID_LAST_CONV_NODE,
} from '@saliency/models';

const dir = mkdtempSync(join(tmpdir(), 'saliency-load-'));
const layersDir = join(dir, 'mobilenet-layers');
const graphDir = join(dir, 'mobilenet-graph');
const samplePhoto = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'demo', 'sample2.jpg');
const photo = join(dir, 'people.png');

beforeAll(async () => {
  await tf.setBackend('cpu');
  await sharp(samplePhoto).resize(360, 240).png().toFile(photo); // a small photo keeps the cpu backend quick
  const layers = await loadNsfwMobileNetV2();
  await layers.save(fileHandler(layersDir));
  layers.dispose();
  writeFileSync(join(layersDir, 'labels.txt'), NSFW_CLASSES.join('\n') + '\n');
  writeFileSync(join(layersDir, 'model.saliency.json'), JSON.stringify({ range: [0, 1], labels: 'labels.txt', layer: NSFW_MOBILENET_V2_LAST_CONV_LAYER }));
  const graph = await loadNsfwMobileNetV2Mid();
  await graph.save(fileHandler(graphDir));
  graph.dispose();
  writeFileSync(join(graphDir, 'labels.json'), JSON.stringify(Object.fromEntries(NSFW_CLASSES.map((c, i) => [String(i), ['id' + i, c]]))));
  writeFileSync(join(graphDir, 'model.saliency.json'), JSON.stringify({ outputs: 'probabilities' }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The map PNG the CLI wrote, as bytes. */
async function pngBytes(file: string): Promise<Uint8Array> {
  expect((await sharp(file).metadata()).channels).toBe(1);
  const { data } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data);
}

/** The API's map of the photo, quantised as writeMapPng does. */
async function apiMapBytes(classifier: Parameters<typeof explain>[1], layer: string): Promise<Uint8Array> {
  const image = await readImage(photo);
  const map = await explain(gradCam({ layer }), classifier, image);
  const bytes = tf.tidy(() => tf.cast(tf.clipByValue(tf.round(tf.mul(map, 255)), 0, 255), 'int32'));
  const out = Uint8Array.from(await bytes.data());
  tf.dispose([map, bytes]);
  return out;
}

describe('loadClassifier: any tfjs model from disk', () => {
  it('tells layers from graph model.json files and reads the config beside them; leaves no tensors', async () => {
    expect(JSON.parse(readFileSync(join(layersDir, 'model.json'), 'utf8')).format).toBe('layers-model');
    expect(JSON.parse(readFileSync(join(graphDir, 'model.json'), 'utf8')).format).toBe('graph-model');
    const before = tf.memory().numTensors;
    const a = await loadClassifier(layersDir);
    expect(a.format).toBe('layers');
    expect(a.labels).toEqual([...NSFW_CLASSES]);
    expect(a.camLayer).toBe(NSFW_MOBILENET_V2_LAST_CONV_LAYER);
    expect(a.classifier.inputSize).toEqual([224, 224]);
    expect(a.spec.range).toEqual([0, 1]);
    a.dispose();
    const b = await loadClassifier({ path: join(graphDir, 'model.json') }, { range: [0, 1], labels: join(graphDir, 'labels.json'), layer: NSFW_MOBILENET_V2_MID_LAST_CONV_NODE });
    expect(b.format).toBe('graph');
    expect(b.labels).toEqual([...NSFW_CLASSES]);
    expect(b.spec.outputs).toBe('probabilities');
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('same Grad-CAM map from `saliency explain --model <dir>` (layers) as from the API on the bundled model', async () => {
    const model = await loadNsfwMobileNetV2();
    const want = await apiMapBytes(fromLayersModel(model, { preprocess: { inputRange: [0, 255], modelRange: [0, 1] } }), NSFW_MOBILENET_V2_LAST_CONV_LAYER);
    model.dispose();
    const out = join(dir, 'out-layers');
    const lines: string[] = [];
    const before = tf.memory().numTensors;
    expect(await runCli(['explain', photo, '--model', layersDir, '--method', 'gradcam', '--backend', 'cpu', '--out', out], (l) => lines.push(l))).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    expect(lines.join('\n')).toContain(`gradcam @ ${NSFW_MOBILENET_V2_LAST_CONV_LAYER}`);
    const got = await pngBytes(join(out, 'people.gradcam.map.png'));
    expect(got.length).toBe(want.length);
    expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
    expect(Math.max(...got)).toBe(255);
  });

  it('same Grad-CAM map from `saliency explain --model <model.json>` (graph, flags for range/labels/layer) as from the API', async () => {
    const model = await loadNsfwMobileNetV2Mid();
    const want = await apiMapBytes(fromGraphModel(model, { preprocess: { inputRange: [0, 255], modelRange: [0, 1] }, outputs: 'probabilities' }), NSFW_MOBILENET_V2_MID_LAST_CONV_NODE);
    model.dispose();
    const out = join(dir, 'out-graph');
    const lines: string[] = [];
    expect(await runCli(['explain', photo, '--model', join(graphDir, 'model.json'), '--range', '0,1', '--labels', join(graphDir, 'labels.json'),
      '--layer', NSFW_MOBILENET_V2_MID_LAST_CONV_NODE, '--method', 'gradcam', '--backend', 'cpu', '--out', out], (l) => lines.push(l))).toBe(0);
    expect(lines.join('\n')).toMatch(/top: (Drawing|Hentai|Neutral|Porn|Sexy) /);
    const got = await pngBytes(join(out, 'people.gradcam.map.png'));
    expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
  });

  it('coded errors for a missing folder, malformed or unknown model.json, bad config and mismatched labels — no tensors left', async () => {
    const before = tf.memory().numTensors;
    await expect(loadClassifier(join(dir, 'nope'))).rejects.toMatchObject({ code: 'BAD_MODEL' });
    const broken = join(dir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'model.json'), '{"format": "layers-model", "modelTopology": ');
    await expect(loadClassifier(broken)).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringContaining('not valid JSON') });
    writeFileSync(join(broken, 'model.json'), '{"modelTopology": {"something": 1}, "weightsManifest": []}');
    await expect(loadClassifier(broken)).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringContaining('layers from a graph') });
    const cfg = join(dir, 'bad-config.json');
    writeFileSync(cfg, JSON.stringify({ rnage: [0, 1] }));
    await expect(loadClassifier(layersDir, { config: cfg })).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringContaining('rnage') });
    await expect(loadClassifier(layersDir, { labels: ['a', 'b'] })).rejects.toMatchObject({ code: 'BAD_OPTION', message: expect.stringContaining('classNames has 2 entries') });
    await expect(loadClassifier(layersDir, { range: [1, 0] })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(loadClassifier('mobilenet', { range: [0, 1] })).rejects.toMatchObject({ code: 'BAD_OPTION', message: expect.stringContaining('range') });
    expect(tf.memory().numTensors).toBe(before);
    expect(await runCli(['explain', photo, '--model', join(dir, 'nope'), '--backend', 'cpu'], () => undefined).catch((e: { code: string }) => e.code)).toBe('BAD_MODEL');
  });

  it('reads labels from .txt and from .json arrays and index objects', () => {
    writeFileSync(join(dir, 'l.txt'), 'cat\r\n\n dog \n');
    expect(readLabels(join(dir, 'l.txt'))).toEqual(['cat', 'dog']);
    writeFileSync(join(dir, 'l.json'), '{"1": "dog", "0": ["n1", "cat"]}');
    expect(readLabels(join(dir, 'l.json'))).toEqual(['cat', 'dog']);
    writeFileSync(join(dir, 'l2.json'), '{"0": "cat", "2": "dog"}');
    expect(() => readLabels(join(dir, 'l2.json'))).toThrowError(expect.objectContaining({ code: 'BAD_MODEL' }));
  });
});
