// @saliency/web's backend chooser and model loader, run in Node (no browser): the chooser must skip
// WebGPU and WebGL with their reasons and fall back to wasm; loadClassifier must fetch layers and
// graph model.json files over HTTP and give the same outputs as the same weights loaded directly.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SaliencyError } from '@saliency/core/base';
import { FACE_EXPRESSION_MEAN } from '@saliency/models/browser';
import { initBackend, loadClassifier, modelSource } from '@saliency/web';
import { loadFaceExpressionModel, loadNsfwMobileNetV2Mid, nsfwjsDir } from '@saliency/models';
import { maxAbsDiff, seeded } from '../setup_cpu';
import { serveFolders, tempDir } from './browser';

describe('initBackend of @saliency/web, in Node', () => {
  it('skips webgpu (no navigator.gpu) and webgl (not a browser) with their reasons, and picks wasm', async () => {
    const choice = await initBackend();
    expect(choice.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.via).toBe('@tensorflow/tfjs-backend-wasm');
    expect(choice.adapter).toBeUndefined();
    expect(choice.skipped.map((s) => [s.backend, s.package])).toEqual([
      ['webgpu', '@tensorflow/tfjs-backend-webgpu'],
      ['webgl', '@tensorflow/tfjs-backend-webgl'],
    ]);
    expect(choice.skipped[0]?.reason).toMatch(/^navigator\.gpu is not available/);
    expect(choice.skipped[1]?.reason).toMatch(/registered no 'webgl' backend/);
    // wasm lacks exactly these four gradient kernels; they were registered from wasm's own kernels.
    expect([...choice.bridgedKernels].sort()).toEqual([
      'Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum',
    ]);
    // Calling again is safe: nothing is registered twice.
    const again = await initBackend();
    expect(again.name).toBe('wasm');
    expect(again.bridgedKernels).toEqual([]);
  });

  it('prefer forces one backend, and says why when it cannot start; unknown names are BAD_OPTION', async () => {
    await expect(initBackend({ prefer: 'webgpu' })).rejects.toMatchObject({
      name: 'SaliencyError', code: 'BACKEND_UNAVAILABLE', message: expect.stringContaining('navigator.gpu is not available'),
    });
    const cpu = await initBackend({ prefer: 'cpu' });
    expect([cpu.name, tf.getBackend(), cpu.skipped.length]).toEqual(['cpu', 'cpu', 0]);
    await expect(initBackend({ prefer: 'metal' as never })).rejects.toMatchObject({ code: 'BAD_OPTION' });
  });
});

describe('loadClassifier over HTTP (Node fetch, cpu backend)', () => {
  let dir: string;
  let server: { url: string; close: () => Promise<void> };
  let face: tfl.LayersModel;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = tempDir('saliency-models-');
    // The face model as a layers model.json + weights file, written by tfjs's own save().
    face = await loadFaceExpressionModel();
    mkdirSync(join(dir, 'face'));
    await face.save(tf.io.withSaveHandler(async (a) => {
      writeFileSync(join(dir, 'face', 'model.json'), JSON.stringify({
        format: a.format, generatedBy: a.generatedBy, convertedBy: a.convertedBy, modelTopology: a.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      }));
      writeFileSync(join(dir, 'face', 'weights.bin'), Buffer.from(a.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    // nsfwjs's MobileNetV2Mid graph model, written out as model.json + its shards (no 'format' hint kept).
    const require = createRequire(import.meta.url);
    const src = join(nsfwjsDir(), 'dist', 'models', 'mobilenet_v2_mid');
    const json = require(join(src, 'model.min.js')) as { modelTopology: unknown; weightsManifest: tf.io.WeightsManifestConfig };
    mkdirSync(join(dir, 'graph'));
    writeFileSync(join(dir, 'graph', 'model.json'), JSON.stringify({ modelTopology: json.modelTopology, weightsManifest: json.weightsManifest }));
    for (const p of json.weightsManifest.flatMap((g) => g.paths)) {
      writeFileSync(join(dir, 'graph', p), Buffer.from(require(join(src, `${p}.min.js`)) as string, 'base64'));
    }
    server = await serveFolders({ '/': dir });
  });
  afterAll(async () => {
    face?.dispose();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a layers model.json: detected as layers, same logits as the model it was saved from, nothing leaked', async () => {
    const before = tf.memory().numTensors;
    const fractions: number[] = [];
    const loaded = await loadClassifier(`${server.url}/face/model.json`, {
      preprocess: { inputRange: [0, 255], mean: FACE_EXPRESSION_MEAN, std: 255 },
      onProgress: (f) => fractions.push(f),
    });
    expect(loaded.format).toBe('layers');
    expect(loaded.classifier.inputSize).toEqual([112, 112]);
    expect(loaded.classifier.numClasses).toBe(7);
    expect(fractions.at(-1)).toBe(1);
    const x = seeded([2, 112, 112, 3], 11, 0, 255) as tf.Tensor4D;
    const got = loaded.classifier.logits(x);
    const want = tf.tidy(() => face.predict(tf.div(tf.sub(x, tf.tensor1d([...FACE_EXPRESSION_MEAN])), 255)) as tf.Tensor2D);
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-5);
    // The logits are not trivially equal: the two images get different scores.
    const [w0, w1] = tf.split(want, 2);
    expect(maxAbsDiff(w0 as tf.Tensor, w1 as tf.Tensor)).toBeGreaterThan(1e-3);
    tf.dispose([w0 as tf.Tensor, w1 as tf.Tensor]);
    tf.dispose([x, got, want]);
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a graph model.json without a format field: detected as graph, same probabilities as nsfwjs\'s own loader', async () => {
    const before = tf.memory().numTensors;
    const loaded = await loadClassifier(`${server.url}/graph/model.json`, {
      preprocess: { inputRange: [0, 255], modelRange: [0, 1] }, outputs: 'probabilities',
    });
    expect(loaded.format).toBe('graph');
    expect(loaded.classifier.numClasses).toBe(5);
    const direct = await loadNsfwMobileNetV2Mid();
    const x = seeded([1, 224, 224, 3], 5, 0, 255) as tf.Tensor4D;
    const got = loaded.classifier.probabilities(x);
    const want = tf.tidy(() => direct.predict(tf.div(x, 255)) as tf.Tensor2D);
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-5);
    tf.dispose([x, got, want]);
    direct.dispose();
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('says what to do for a bad source, an unknown scheme, a bad format option, or a forced wrong format', async () => {
    expect(() => modelSource('')).toThrow(SaliencyError);
    expect(() => modelSource('gopher://x/model.json')).toThrow(/No tfjs loader is registered for 'gopher:\/\/'/);
    await expect(loadClassifier(`${server.url}/face/model.json`, { format: 'onnx' as never })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    const before = tf.memory().numTensors;
    await expect(loadClassifier(`${server.url}/face/model.json`, { format: 'graph' })).rejects.toMatchObject({
      code: 'BAD_OPTION', message: expect.stringContaining("is a layers model, but format: 'graph' was given"),
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});
