// @saliency/web in real headless Chromium (Debian's, via playwright-core): the backend really is WebGPU
// (SwiftShader), Grad-CAM / vanilla gradient / RISE maps computed there match the same maps computed
// on the cpu backend in this Node process, canvas I/O is exact, models load from IndexedDB and relative
// URLs, and every run leaves the page's tf.memory().numTensors where it found it.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colorize, fromLayersModel, overlay, type Classifier, type SaliencyMethod } from '@saliency/core/base';
import { FACE_EXPRESSION_CLASSES, FACE_EXPRESSION_MEAN } from '@saliency/models/browser';
import { gradCam, vanillaGradient } from '@saliency/methods';
import { rise } from '@saliency/methods';
import { readImage } from '@saliency/node';
import { faceApiDir, loadFaceExpressionModel, sampleFaces } from '@saliency/models';
import { rng, useCpu } from '../setup_cpu';
import { buildSite, launchChromium, pageErrors, serveFolders, spearman, tempDir } from './browser';
import type { Harness, RunResult, RunSpec } from './harness/main';
import type { Page } from 'playwright-core';

declare global {
  interface Window {
    harness: Harness;
  }
}

const HAPPY = FACE_EXPRESSION_CLASSES.indexOf('happy');
const here = fileURLToPath(new URL('.', import.meta.url));

let page: Page;
let closeBrowser: (() => Promise<void>) | null = null;
let server: { url: string; close: () => Promise<void> } | null = null;
let site = '';
let model: tfl.LayersModel;
let classifier: Classifier;
/** Two smiling faces from face-api's sample photos, 112×112, 0–255 floats. */
let faces: Float32Array;

async function smilingFaces(count: number): Promise<Float32Array> {
  const out = new Float32Array(count * 112 * 112 * 3);
  let k = 0;
  for (const sample of sampleFaces()) {
    for (const f of sample.faces) {
      if (k >= count || f.expressions.squareCrop[HAPPY] < 0.9) continue;
      const img = await readImage(sample.path, { region: f.box, square: true });
      const x = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(Float32Array.from(img.data), [img.height, img.width, 3]), [112, 112], false, true));
      out.set(x.dataSync(), k * 112 * 112 * 3);
      x.dispose();
      k++;
    }
  }
  if (k < count) throw new Error(`only ${k} smiling faces`);
  return out;
}

beforeAll(async () => {
  await useCpu();
  site = tempDir('saliency-harness-');
  // The page's JS is a real Vite bundle of the harness (tests/web/harness), built from the packages' sources.
  await buildSite(join(here, 'harness', 'vite.config.ts'), join(site, 'app'));
  model = await loadFaceExpressionModel();
  classifier = fromLayersModel(model, { classNames: FACE_EXPRESSION_CLASSES, preprocess: { inputRange: [0, 255], mean: FACE_EXPRESSION_MEAN, std: 255 } });
  faces = await smilingFaces(2);
  // The face model as a layers model.json, for the relative-URL loader test.
  mkdirSync(join(site, 'layers'));
  await model.save(tf.io.withSaveHandler(async (a) => {
    writeFileSync(join(site, 'layers', 'model.json'), JSON.stringify({
      format: a.format, modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
    }));
    writeFileSync(join(site, 'layers', 'weights.bin'), Buffer.from(a.weightData as ArrayBuffer));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  server = await serveFolders({
    '/': join(site, 'app'), '/face/': join(faceApiDir(), 'model'), '/layers/': join(site, 'layers'),
    '/wasm/': join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist'),
  });
  const browser = await launchChromium();
  page = browser.page;
  closeBrowser = browser.close;
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.harness != null);
});

afterAll(async () => {
  await closeBrowser?.();
  await server?.close();
  model?.dispose();
  if (site !== '') rmSync(site, { recursive: true, force: true });
});

describe('WebGPU in headless Chromium', () => {
  it('initBackend() picks webgpu on the SwiftShader adapter, with nothing skipped and no kernel to bridge', async () => {
    const got = await page.evaluate(async () => {
      const { web, tf, core } = window.harness.lib;
      const choice = await web.initBackend();
      return { choice, active: tf.getBackend(), missing: core.missingKernels('webgpu') };
    });
    // Fail (never skip) when this is not WebGPU.
    expect(got.choice.name).toBe('webgpu');
    expect(got.active).toBe('webgpu');
    expect(got.choice.via).toBe('@tensorflow/tfjs-backend-webgpu');
    expect(got.choice.adapter).toMatch(/swiftshader/i);
    expect(got.choice.skipped).toEqual([]);
    expect(got.missing).toEqual([]);
    expect(got.choice.bridgedKernels).toEqual([]);
  });
});

/** The same run on the cpu backend in Node, as a reference. */
async function cpuRun(method: SaliencyMethod, n: number, targets: number[] | 'top'): Promise<Float32Array> {
  const x = tf.tensor4d(faces.subarray(0, n * 112 * 112 * 3), [n, 112, 112, 3]);
  const maps = await method.explain(classifier, x, targets);
  const out = maps.dataSync() as Float32Array;
  tf.dispose([x, maps]);
  return out;
}

async function pageRun(spec: Omit<RunSpec, 'pixels'>): Promise<RunResult> {
  const pixels = Array.from(faces.subarray(0, spec.n * 112 * 112 * 3));
  return page.evaluate((s) => window.harness.run(s), { ...spec, pixels });
}

function compare(name: string, gpu: RunResult, cpu: Float32Array, n: number, backend = 'webgpu'): void {
  expect(gpu.error).toBeUndefined();
  expect(gpu.backend).toBe(backend);
  expect(gpu.shape).toEqual([n, 112, 112]);
  expect(gpu.after).toBe(gpu.before); // numTensors unchanged in the page
  let worst = 0;
  const rhos: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = cpu.subarray(i * 112 * 112, (i + 1) * 112 * 112);
    const b = gpu.maps.slice(i * 112 * 112, (i + 1) * 112 * 112);
    for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs((a[j] as number) - (b[j] as number)));
    rhos.push(spearman(a, b));
    // Not a trivial map: it spans [0, 1] and is not constant.
    expect(Math.max(...a)).toBeCloseTo(1, 5);
    expect(Math.min(...a)).toBeCloseTo(0, 5);
  }
  console.log(`${name}: cpu (Node) vs ${gpu.backend} (Chromium): max |Δ| = ${worst.toExponential(2)}, Spearman ρ = ${rhos.map((r) => r.toFixed(6)).join(', ')}`);
  expect(worst).toBeLessThanOrEqual(1e-3);
  for (const r of rhos) expect(r).toBeGreaterThanOrEqual(0.999);
}

describe('maps from WebGPU match the cpu backend (same weights, same pixels)', () => {
  beforeAll(async () => {
    await page.evaluate(async () => window.harness.loadFace('./face/'));
  });

  it('Grad-CAM (targets "top", resolved on the device)', async () => {
    const gpu = await pageRun({ method: 'gradcam', options: { layer: 'dense3' }, n: 2, targets: 'top' });
    compare('Grad-CAM', gpu, await cpuRun(gradCam({ layer: 'dense3' }), 2, 'top'), 2);
  });

  it('vanilla gradient (max |∂logit/∂x| over channels)', async () => {
    const gpu = await pageRun({ method: 'gradient', n: 2, targets: [HAPPY, HAPPY] });
    compare('vanilla gradient', gpu, await cpuRun(vanillaGradient(), 2, [HAPPY, HAPPY]), 2);
  });

  it('RISE (N = 8 masks in batches of 2, seed 3), with progress after every batch', async () => {
    // Batches of 2 reuse the shaders Grad-CAM compiled: SwiftShader compiles slowly and runs the model on the CPU.
    const options = { n: 8, batchSize: 2, seed: 3 };
    const gpu = await pageRun({ method: 'rise', options, n: 1, targets: [HAPPY] });
    compare('RISE', gpu, await cpuRun(rise(options), 1, [HAPPY]), 1);
    expect(gpu.progress.map((p) => p.done)).toEqual([2, 4, 6, 8]);
    expect(gpu.progress.every((p) => p.total === 8)).toBe(true);
  });

  it('an aborted RISE rejects with ABORTED between batches and leaves numTensors unchanged', async () => {
    const gpu = await pageRun({ method: 'rise', options: { n: 8, batchSize: 2, seed: 3 }, n: 1, targets: [HAPPY], abortAfter: 1 });
    expect(gpu.error?.code).toBe('ABORTED');
    expect(gpu.progress.length).toBe(1);
    expect(gpu.after).toBe(gpu.before);
  });

  it('a NaN in the input is NON_FINITE_INPUT on WebGPU too, and leaks nothing', async () => {
    const pixels = Array.from(faces.subarray(0, 112 * 112 * 3));
    pixels[5000] = Number.NaN;
    const gpu = await page.evaluate((s) => window.harness.run(s), { method: 'gradcam' as const, n: 1, targets: [HAPPY], pixels });
    expect(gpu.error?.code).toBe('NON_FINITE_INPUT');
    expect(gpu.after).toBe(gpu.before);
  });

  it('loadClassifier from IndexedDB and from a relative model.json URL gives the same logits', async () => {
    const pixels = Array.from(faces.subarray(0, 2 * 112 * 112 * 3));
    const got = await page.evaluate(async (px) => {
      const { web, tf, faceModel } = window.harness.lib;
      const pre = { inputRange: [0, 255] as [number, number], mean: faceModel.FACE_EXPRESSION_MEAN, std: 255 };
      const before = tf.memory().numTensors;
      await window.harness.faceModel().save('indexeddb://saliency-test-face');
      const want = await window.harness.faceLogits(px, 2);
      const results: Record<string, { format: string; logits: number[] }> = {};
      for (const source of ['indexeddb://saliency-test-face', './layers/model.json']) {
        const loaded = await web.loadClassifier(source, { preprocess: pre });
        const logits = tf.tidy(() => loaded.classifier.logits(tf.tensor4d(px, [2, 112, 112, 3])));
        results[source] = { format: loaded.format, logits: Array.from(await logits.data()) };
        logits.dispose();
        loaded.dispose();
      }
      let missing = '';
      try { await web.loadClassifier('indexeddb://nothing-stored-here'); } catch (e) { missing = (e as { code?: string }).code ?? String(e); }
      return { want, results, missing, leaked: tf.memory().numTensors - before };
    }, pixels);
    const cpuLogits = classifier.logits(tf.tensor4d(faces.subarray(0, 2 * 112 * 112 * 3), [2, 112, 112, 3]));
    const ref = Array.from(cpuLogits.dataSync());
    cpuLogits.dispose();
    for (const r of Object.values(got.results)) {
      expect(r.format).toBe('layers');
      // Same backend, same weights: the same logits.
      r.logits.forEach((v, i) => expect(Math.abs(v - (got.want[i] as number))).toBeLessThanOrEqual(1e-5));
    }
    // And the page's logits are the cpu backend's (the happy face scores highest on happy).
    got.want.forEach((v, i) => expect(Math.abs(v - (ref[i] as number))).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(ref[i] as number))));
    expect(got.want.slice(0, 7).indexOf(Math.max(...got.want.slice(0, 7)))).toBe(HAPPY);
    expect(got.missing).toBe('BAD_OPTION');
    expect(got.leaked).toBe(0);
  });
});

describe('canvas I/O in the page', () => {
  const W = 37, H = 23;
  let raw: Uint8Array; // RGB
  let png: string; // base64

  beforeAll(async () => {
    const r = rng(7);
    raw = Uint8Array.from({ length: W * H * 3 }, () => Math.floor(r() * 256));
    png = (await sharp(Buffer.from(raw), { raw: { width: W, height: H, channels: 3 } }).png().toBuffer()).toString('base64');
  });

  it('reads the same pixels from a PNG Blob, File, <img>, ImageBitmap, canvas and ImageData; toTensor maps the range', async () => {
    const got = await page.evaluate(async (b64) => {
      const { web, tf } = window.harness.lib;
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const blob = new Blob([bytes], { type: 'image/png' });
      const img = new Image();
      img.src = URL.createObjectURL(blob);
      await img.decode();
      const bitmap = await createImageBitmap(blob);
      const fromBlob = await web.readPixels(blob);
      const canvas = document.createElement('canvas');
      canvas.width = fromBlob.width;
      canvas.height = fromBlob.height;
      canvas.getContext('2d')?.putImageData(fromBlob, 0, 0);
      const sources: Record<string, Parameters<typeof web.readPixels>[0]> = {
        file: new File([bytes], 'x.png', { type: 'image/png' }), img, bitmap, canvas, imageData: fromBlob,
      };
      const pixels: Record<string, number[]> = { blob: Array.from(fromBlob.data) };
      for (const [k, s] of Object.entries(sources)) pixels[k] = Array.from((await web.readPixels(s)).data);
      const before = tf.memory().numTensors;
      const unit = await web.toTensor(blob, { range: [0, 1] });
      const grey = await web.toTensor(img, { channels: 1 });
      const like = await web.toImageLike(bitmap);
      const out = {
        size: [fromBlob.width, fromBlob.height], pixels, unitShape: unit.shape, unit: Array.from(await unit.data()),
        greyShape: grey.shape, grey: Array.from(await grey.data()), like: [like.width, like.height, like.channels ?? 0],
        leaked: 0,
      };
      tf.dispose([unit, grey]);
      out.leaked = tf.memory().numTensors - before;
      return out;
    }, png);
    expect(got.size).toEqual([W, H]);
    for (const [k, rgba] of Object.entries(got.pixels)) {
      let bad = 0;
      for (let i = 0; i < W * H; i++) {
        for (let c = 0; c < 3; c++) if (rgba[4 * i + c] !== raw[3 * i + c]) bad++;
        if (rgba[4 * i + 3] !== 255) bad++;
      }
      expect(bad, `${k} differs from the PNG's pixels`).toBe(0);
    }
    expect(got.unitShape).toEqual([H, W, 3]);
    got.unit.forEach((v, i) => expect(Math.abs(v - (raw[i] as number) / 255)).toBeLessThanOrEqual(1e-6));
    expect(got.greyShape).toEqual([H, W, 1]);
    for (let i = 0; i < W * H; i++) {
      const luma = 0.299 * (raw[3 * i] as number) + 0.587 * (raw[3 * i + 1] as number) + 0.114 * (raw[3 * i + 2] as number);
      expect(Math.abs((got.grey[i] as number) - luma)).toBeLessThanOrEqual(1e-3);
    }
    expect(got.like).toEqual([W, H, 4]);
    expect(got.leaked).toBe(0);
  });

  it('bad inputs are SaliencyErrors with a code', async () => {
    const codes = await page.evaluate(async () => {
      const { web } = window.harness.lib;
      const code = async (f: () => Promise<unknown>): Promise<string> => {
        try { await f(); return 'no error'; } catch (e) { return `${(e as Error).name}:${(e as { code?: string }).code ?? ''}`; }
      };
      return {
        notAnImage: await code(() => web.readPixels(new Blob(['hello'], { type: 'text/plain' }))),
        emptyImg: await code(() => web.readPixels(new Image())),
        notASource: await code(() => web.readPixels({} as never)),
        channels: await code(() => web.toTensor(new ImageData(2, 2), { channels: 2 as never })),
        opacity: await code(() => web.overlayImageData(new ImageData(2, 2), { data: new Float32Array(4), width: 2, height: 2 }, { opacity: 1.5 })),
        colormap: await code(() => web.mapToImageData({ data: new Float32Array(4), width: 2, height: 2 }, { colormap: 'rainbow' as never })),
        mapSize: await code(() => web.mapToImageData({ data: new Float32Array(3), width: 2, height: 2 })),
      };
    });
    expect(codes).toEqual({
      notAnImage: 'SaliencyError:BAD_OPTION', emptyImg: 'SaliencyError:IMAGE_TOO_SMALL', notASource: 'SaliencyError:BAD_OPTION',
      channels: 'SaliencyError:BAD_OPTION', opacity: 'SaliencyError:BAD_OPTION', colormap: 'SaliencyError:BAD_OPTION',
      mapSize: 'SaliencyError:BAD_OPTION',
    });
  });

  it('maps become the colours of core\'s colorize; overlays are core\'s overlay; the canvas and the PNG hold the same pixels', async () => {
    const r = rng(11);
    const map = Float32Array.from({ length: 5 * 7 }, () => r());
    map[0] = 0; map[1] = 1; map[2] = 0.5; map[3] = 255 / 256; // edges of the colour table
    const got = await page.evaluate(async ({ b64, values }) => {
      const { web, tf } = window.harness.lib;
      const blob = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/png' });
      const m = { data: Float32Array.from(values), width: 7, height: 5 };
      const coloured = await web.mapToImageData(m, { colormap: 'viridis' });
      const before = tf.memory().numTensors;
      const t = tf.tensor2d(values, [5, 7]);
      const fromTensor = await web.mapToImageData(t, { colormap: 'viridis' });
      const batch = tf.tensor3d(values, [1, 5, 7]);
      const fromBatch = await web.overlayImageData(blob, batch, { colormap: 'turbo', opacity: 0.3 });
      tf.dispose([t, batch]);
      const leaked = tf.memory().numTensors - before;
      const shown = await web.overlayImageData(blob, m, { colormap: 'turbo', opacity: 0.3 });
      const canvas = document.createElement('canvas');
      const drawn = await web.drawOverlay(canvas, blob, m, { colormap: 'turbo', opacity: 0.3 });
      const onCanvas = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height);
      const pngOf = async (b: Blob): Promise<string> => {
        const u = new Uint8Array(await b.arrayBuffer());
        let s = '';
        for (const v of u) s += String.fromCharCode(v);
        return btoa(s);
      };
      return {
        coloured: Array.from(coloured.data), fromTensor: Array.from(fromTensor.data), fromBatch: Array.from(fromBatch.data),
        shown: Array.from(shown.data), drawn: Array.from(drawn.data), onCanvas: Array.from(onCanvas?.data ?? []),
        canvasSize: [canvas.width, canvas.height], leaked,
        pngFromData: await pngOf(await web.toPngBlob(shown)), pngFromCanvas: await pngOf(await web.toPngBlob(canvas)),
        pngType: (await web.toPngBlob(canvas)).type,
      };
    }, { b64: png, values: Array.from(map) });
    // Independent reference: @saliency/core's tensor ops on the cpu backend.
    const ref = tf.tidy(() => tf.round(tf.mul(colorize(tf.tensor3d(map, [1, 5, 7]), 'viridis'), 255)).dataSync());
    let worst = 0;
    for (let i = 0; i < 35; i++) {
      for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs((got.coloured[4 * i + c] as number) - (ref[3 * i + c] as number)));
      expect(got.coloured[4 * i + 3]).toBe(255);
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(got.fromTensor).toEqual(got.coloured);
    const image = tf.tensor3d(Float32Array.from(raw, (v) => v / 255), [H, W, 3]);
    const blended = tf.tidy(() => tf.mul(overlay(image, tf.tensor2d(map, [5, 7]), { colormap: 'turbo', alpha: 0.3 }), 255).dataSync());
    image.dispose();
    let worstBlend = 0;
    for (let i = 0; i < W * H; i++) {
      for (let c = 0; c < 3; c++) worstBlend = Math.max(worstBlend, Math.abs((got.shown[4 * i + c] as number) - (blended[3 * i + c] as number)));
      expect(got.shown[4 * i + 3]).toBe(255);
    }
    console.log(`overlay in the page vs core's overlay on cpu: max |Δ| = ${worstBlend.toFixed(3)} (0–255 scale)`);
    expect(worstBlend).toBeLessThanOrEqual(1);
    expect(got.fromBatch).toEqual(got.shown);
    expect(got.drawn).toEqual(got.shown);
    expect(got.canvasSize).toEqual([W, H]);
    expect(got.onCanvas).toEqual(got.shown);
    expect(got.leaked).toBe(0);
    expect(got.pngType).toBe('image/png');
    for (const b64 of [got.pngFromData, got.pngFromCanvas]) {
      const decoded = await sharp(Buffer.from(b64, 'base64')).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      expect([decoded.info.width, decoded.info.height]).toEqual([W, H]);
      expect(Array.from(decoded.data)).toEqual(got.shown);
    }
  });

});

describe('the other backends in the page', () => {
  it('prefer: \'webgl\' starts WebGL or says why not; prefer: \'wasm\' with wasmPaths runs Grad-CAM like cpu', async () => {
    const got = await page.evaluate(async () => {
      const { web, tf } = window.harness.lib;
      let webgl: { name?: string; code?: string; message?: string; active: string };
      try {
        webgl = { name: (await web.initBackend({ prefer: 'webgl' })).name, active: tf.getBackend() };
      } catch (e) {
        webgl = { code: (e as { code?: string }).code ?? '', message: (e as Error).message, active: tf.getBackend() };
      }
      const wasm = await web.initBackend({ prefer: 'wasm', wasmPaths: new URL('./wasm/', document.baseURI).href });
      return { webgl, wasm, active: tf.getBackend() };
    });
    if (got.webgl.name != null) {
      expect([got.webgl.name, got.webgl.active]).toEqual(['webgl', 'webgl']);
    } else {
      // Debian's Chromium with these flags has no WebGL (no GPU, and SwiftShader WebGL needs --enable-unsafe-swiftshader).
      expect(got.webgl.code).toBe('BACKEND_UNAVAILABLE');
      expect(got.webgl.message).toMatch(/'webgl' backend cannot be started here: \[webgl via @tensorflow\/tfjs-backend-webgl: loaded, but tf.setBackend\('webgl'\) failed/);
    }
    expect([got.wasm.name, got.active, got.wasm.via]).toEqual(['wasm', 'wasm', '@tensorflow/tfjs-backend-wasm']);
    expect([...got.wasm.bridgedKernels].sort()).toEqual([
      'Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum',
    ]);
    // The model is loaded again on wasm (tensors made on WebGPU are not read back synchronously).
    await page.evaluate(async () => window.harness.loadFace('./face/'));
    const gpu = await pageRun({ method: 'gradcam', options: { layer: 'dense3' }, n: 1, targets: [HAPPY] });
    compare('Grad-CAM on wasm', gpu, await cpuRun(gradCam({ layer: 'dense3' }), 1, [HAPPY]), 1, 'wasm');
  });

  it('no uncaught errors in the page', () => {
    expect(pageErrors(page).filter((e) => !/favicon/.test(e))).toEqual([]);
  });
});
