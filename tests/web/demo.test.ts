// The demo page (examples/web) end to end in real headless Chromium on WebGPU: build it with its own
// Vite config, serve the files from 127.0.0.1, put a face photo in its file input, run Grad-CAM + SESS,
// screenshot it to docs/web-demo.png, and check the overlay: not empty, hottest pixel on the face,
// and tf.memory().numTensors unchanged after each run. Then every method added with issue 17, as the
// page's menu offers it (page defaults: Integrated Gradients 50 steps, Occlusion 225 patches): each
// map is checked to be a real map and, but for Integrated Gradients and Occlusion, compared with the
// same method (the page's own catalogue entry) run in Node on the cpu backend, same pixels and weights.
import * as tf from '@tensorflow/tfjs-core';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colormapTable, explain } from '@saliency/core/base';
import { FACE_EXPRESSION_CLASSES, type FaceBox } from '@saliency/models/browser';
import { loadFaceExpressionClassifier, sampleFaces } from '@saliency/models';
import { useCpu } from '../setup_cpu';
import { buildSite, launchChromium, pageErrors, serveFolders, tempDir } from './browser';
import type { DemoHandle } from '../../examples/web/src/main';
import { METHODS } from '../../examples/web/src/methods';
import type { Page } from 'playwright-core';

declare global {
  interface Window {
    saliencyDemo: DemoHandle;
  }
}

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = join(here, '..', '..');
const HAPPY = FACE_EXPRESSION_CLASSES.indexOf('happy');

let page: Page;
let closeBrowser: (() => Promise<void>) | null = null;
let server: { url: string; close: () => Promise<void> } | null = null;
let dir = '';
/** The photo given to the page, and the face box in its pixels. */
let photo: { path: string; width: number; height: number; box: FaceBox; pixels: Buffer };

/**
 * A crop of face-api's demo/sample1.jpg around its largest smiling face: a square 1.3× the face
 * box's larger side (the face model, fed the whole crop resized to 112, reads it as happy).
 */
async function facePhoto(out: string): Promise<typeof photo> {
  const sample = sampleFaces().find((s) => s.file === 'demo/sample1.jpg');
  const face = sample?.faces.filter((f) => f.expressions.squareCrop[HAPPY] > 0.95)
    .sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height)[0];
  if (sample == null || face == null) throw new Error('demo/sample1.jpg has no smiling face in assets/sample-faces.json');
  const side = Math.round(1.3 * Math.max(face.box.width, face.box.height));
  const left = Math.min(Math.max(0, Math.round(face.box.x + face.box.width / 2 - side / 2)), sample.width - side);
  const top = Math.min(Math.max(0, Math.round(face.box.y + face.box.height / 2 - side / 2)), sample.height - side);
  const crop = sharp(sample.path).extract({ left, top, width: side, height: side });
  await crop.clone().png().toFile(out);
  const pixels = await crop.clone().removeAlpha().raw().toBuffer();
  return { path: out, width: side, height: side, box: { x: face.box.x - left, y: face.box.y - top, width: face.box.width, height: face.box.height }, pixels };
}

beforeAll(async () => {
  await useCpu();
  dir = tempDir('saliency-demo-');
  await buildSite(join(repo, 'examples', 'web', 'vite.config.ts'), join(dir, 'site'));
  photo = await facePhoto(join(dir, 'face.png'));
  server = await serveFolders({ '/': join(dir, 'site') });
  const browser = await launchChromium();
  page = browser.page;
  closeBrowser = browser.close;
  await page.setViewportSize({ width: 960, height: 660 });
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.saliencyDemo != null);
  await page.evaluate(() => window.saliencyDemo.ready);
});

afterAll(async () => {
  await closeBrowser?.();
  await server?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

async function runAndWait(timeout = 200_000): Promise<void> {
  await page.click('#run');
  await page.waitForFunction(() => ['done', 'error', 'cancelled'].includes(window.saliencyDemo.state().phase), null, { timeout });
}

/** Pixels of the overlay canvas. */
async function overlayPixels(): Promise<{ width: number; height: number; data: number[] }> {
  return page.evaluate(() => {
    const c = document.getElementById('overlay') as HTMLCanvasElement;
    const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height);
    return { width: c.width, height: c.height, data: Array.from(d?.data ?? []) };
  });
}

const inBox = (x: number, y: number, b: FaceBox): boolean => x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height;

describe('the demo page (examples/web) in headless Chromium', () => {
  it('loads on WebGPU with the bundled face model, every method of the build and the SESS switch', async () => {
    const s = await page.evaluate(() => { const st = window.saliencyDemo.state(); return { ...st, map: null }; });
    expect(s.phase).toBe('idle');
    expect(s.backend?.name).toBe('webgpu');
    expect(await page.getAttribute('#backend', 'data-backend')).toBe('webgpu');
    expect(await page.textContent('#backend')).toMatch(/webgpu \(google\/swiftshader\)/);
    expect(s.methods).toEqual(expect.arrayContaining(['gradcam', 'gradient']));
    const options = await page.$$eval('#method option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(options).toEqual(s.methods);
    expect(s.sess).toBe(true);
    expect(await page.isDisabled('#run')).toBe(true); // no image yet
  });

  it('a face photo through the file input: top classes (happy first), Grad-CAM + SESS overlay on the face, screenshot', async () => {
    await page.setInputFiles('#file', photo.path);
    await page.waitForFunction(() => window.saliencyDemo.state().phase === 'idle' && window.saliencyDemo.state().scores.length > 0);
    const scores = await page.evaluate(() => window.saliencyDemo.state().scores);
    // The page's top classes are the cpu backend's probabilities of the same photo resized to 112 (in Node).
    const { classifier, dispose } = await loadFaceExpressionClassifier();
    const ref = tf.tidy(() => classifier.probabilities(tf.image.resizeBilinear(
      tf.tensor4d(Float32Array.from(photo.pixels), [1, photo.height, photo.width, 3]), [112, 112], false, true)).dataSync());
    dispose();
    expect(scores.length).toBe(7);
    for (const s of scores) expect(Math.abs(s.probability - (ref[s.index] as number))).toBeLessThanOrEqual(1e-3);
    expect(scores[0]?.name).toBe('happy');
    expect(await page.$$eval('#top-classes li', (li) => li.length)).toBe(3);
    await page.selectOption('#method', 'gradcam');
    await page.check('#sess');
    await page.fill('#sess-scales', '4'); // 13 patches: SwiftShader runs the model on the CPU
    const before = await page.evaluate(() => window.saliencyDemo.numTensors());
    await runAndWait();
    const s = await page.evaluate(() => window.saliencyDemo.state());
    expect(s.error).toBe('');
    expect(s.phase).toBe('done');
    expect(await page.evaluate(() => window.saliencyDemo.numTensors())).toBe(before);
    expect(await page.textContent('#status')).toMatch(/Grad-CAM \+ SESS done in .* on webgpu/);
    expect(await page.evaluate(() => (document.getElementById('progress') as HTMLProgressElement).value)).toBe(1);

    // The screenshot, committed as docs/web-demo.png (palette PNG to keep it small).
    const shot = await page.screenshot({ type: 'png' });
    writeFileSync(join(repo, 'docs', 'web-demo.png'), await sharp(shot).png({ palette: true, quality: 90, effort: 8 }).toBuffer());

    // The overlay canvas: the photo's size, and not the bare photo (the colour layer is there).
    const shown = await overlayPixels();
    expect([shown.width, shown.height]).toEqual([photo.width, photo.height]);
    let changed = 0;
    for (let i = 0; i < photo.width * photo.height; i++) {
      const d = Math.abs((shown.data[4 * i] as number) - (photo.pixels[3 * i] as number))
        + Math.abs((shown.data[4 * i + 2] as number) - (photo.pixels[3 * i + 2] as number));
      if (d > 8) changed++;
    }
    expect(changed / (photo.width * photo.height)).toBeGreaterThan(0.5);

    // Its hottest pixel: at opacity 1 the canvas is the colour map itself; invert jet to map values.
    await page.$eval('#opacity', (el) => { (el as HTMLInputElement).value = '1'; el.dispatchEvent(new Event('input')); });
    await page.waitForFunction(() => {
      const c = document.getElementById('overlay') as HTMLCanvasElement;
      const p = c.getContext('2d')?.getImageData(0, 0, 1, 1).data;
      return p != null && p[3] === 255;
    });
    await new Promise((r) => setTimeout(r, 300));
    const pure = await overlayPixels();
    const lut = Array.from(colormapTable('jet'), (v) => v * 255);
    let hottest = -1;
    const at: [number, number][] = [];
    for (let i = 0; i < pure.width * pure.height; i++) {
      let best = 0, bestD = Infinity;
      for (let k = 0; k < 256; k++) {
        const d = Math.abs((pure.data[4 * i] as number) - (lut[3 * k] as number)) + Math.abs((pure.data[4 * i + 1] as number) - (lut[3 * k + 1] as number))
          + Math.abs((pure.data[4 * i + 2] as number) - (lut[3 * k + 2] as number));
        if (d < bestD) { bestD = d; best = k; }
      }
      if (best > hottest) { hottest = best; at.length = 0; }
      if (best === hottest) at.push([i % pure.width, Math.floor(i / pure.width)]);
    }
    const cx = at.reduce((a, p) => a + p[0], 0) / at.length;
    const cy = at.reduce((a, p) => a + p[1], 0) / at.length;
    console.log(`demo: Grad-CAM + SESS (4 scales) on a ${photo.width}×${photo.height} photo; face box ${JSON.stringify(photo.box)}; `
      + `hottest colour bin ${hottest} at ${at.length} px, centroid (${cx.toFixed(1)}, ${cy.toFixed(1)})`);
    expect(hottest).toBe(255);
    expect(inBox(cx, cy, photo.box)).toBe(true);
    // The page's own map agrees: its argmax lies in the face box too.
    const argmax = await page.evaluate(() => {
      const m = window.saliencyDemo.state().map;
      if (m == null) return null;
      let k = 0;
      for (let i = 1; i < m.data.length; i++) if ((m.data[i] as number) > (m.data[k] as number)) k = i;
      return [k % m.width, Math.floor(k / m.width)] as [number, number];
    });
    expect(argmax).not.toBeNull();
    expect(inBox(argmax?.[0] ?? -1, argmax?.[1] ?? -1, photo.box)).toBe(true);
    await page.$eval('#opacity', (el) => { (el as HTMLInputElement).value = '0.5'; el.dispatchEvent(new Event('input')); });
  });

  it('plain vanilla gradient runs too and leaves numTensors unchanged; no uncaught errors', async () => {
    await page.selectOption('#method', 'gradient');
    await page.uncheck('#sess');
    const before = await page.evaluate(() => window.saliencyDemo.numTensors());
    await runAndWait();
    const s = await page.evaluate(() => { const st = window.saliencyDemo.state(); return { phase: st.phase, error: st.error, runs: st.runs }; });
    expect(s).toEqual({ phase: 'done', error: '', runs: 2 });
    expect(await page.evaluate(() => window.saliencyDemo.numTensors())).toBe(before);
    expect(pageErrors(page)).toEqual([]);
  });

  it('every method added with issue 17 runs in the page: a map that is not constant, equal to the same method in Node', async () => {
    const added = ['gradcam++', 'xgradcam', 'layercam', 'hirescam', 'eigencam', 'ablationcam', 'guidedgradcam',
      'inputxgradient', 'integratedgradients', 'occlusion'];
    expect(await page.evaluate(() => window.saliencyDemo.state().methods)).toEqual(expect.arrayContaining(added));
    await page.uncheck('#sess');
    await page.selectOption('#target', 'top');
    const { classifier, dispose } = await loadFaceExpressionClassifier();
    const nodeBefore = tf.memory().numTensors;
    try {
      for (const [k, id] of added.entries()) {
        const entry = METHODS.find((m) => m.id === id);
        expect(entry, id).toBeDefined();
        if (entry == null) continue;
        await page.selectOption('#method', id);
        const before = await page.evaluate(() => window.saliencyDemo.numTensors());
        // SwiftShader runs WebGPU on the CPU: Occlusion's 225 forwards took 163 s, IG's 50 steps 94 s here.
        await runAndWait(entry.long ? 600_000 : 200_000);
        const s = await page.evaluate(() => {
          const st = window.saliencyDemo.state();
          return { phase: st.phase, error: st.error, runs: st.runs, map: st.map == null ? null : { width: st.map.width, height: st.map.height, data: Array.from(st.map.data) } };
        });
        expect({ id, phase: s.phase, error: s.error, runs: s.runs }).toEqual({ id, phase: 'done', error: '', runs: 3 + k });
        expect(await page.evaluate(() => window.saliencyDemo.numTensors()), id).toBe(before);
        expect(await page.textContent('#status')).toContain(`${entry.label} done in`);
        const map = s.map;
        expect(map, id).not.toBeNull();
        if (map == null) continue;
        expect([map.width, map.height], id).toEqual([photo.width, photo.height]);
        // Not constant: spans [0, 1], with spread and many levels.
        const n = map.data.length;
        const mean = map.data.reduce((a, v) => a + v, 0) / n;
        const sd = Math.sqrt(map.data.reduce((a, v) => a + (v - mean) ** 2, 0) / n);
        expect(map.data.reduce((a, v) => Math.min(a, v), Infinity), id).toBeGreaterThanOrEqual(0);
        expect(map.data.reduce((a, v) => Math.max(a, v), -Infinity), id).toBeCloseTo(1, 5);
        expect(sd, id).toBeGreaterThan(0.02);
        expect(new Set(map.data.map((v) => Math.round(v * 1000))).size, id).toBeGreaterThan(100);

        // The same method (the page's catalogue entry) in Node on the cpu backend, same pixels. Not for
        // Integrated Gradients and Occlusion: their 50 steps / 225 forwards take minutes on the cpu
        // backend (measured once each: IG max |Δ| 1.3e-3, mean |Δ| 3.2e-5, r 1.000000, about 2.5 min;
        // Occlusion max |Δ| 4.1e-6, r 1.000000, 159 s). IG shares Input × Gradient's gradient path, and
        // Occlusion the forward pass of every method, both compared here.
        if (id === 'integratedgradients' || id === 'occlusion') {
          console.log(`demo: ${id} — sd ${sd.toFixed(3)}; ${await page.textContent('#status')}`);
          continue;
        }
        const t0 = performance.now();
        const ref = await explain(entry.create({}), classifier, { data: Uint8Array.from(photo.pixels), width: photo.width, height: photo.height, channels: 3 }, { target: 'top' });
        const want = Array.from(await ref.data());
        ref.dispose();
        let maxDiff = 0, sumDiff = 0, sab = 0, saa = 0, sbb = 0;
        const meanB = want.reduce((a, v) => a + v, 0) / n;
        for (let i = 0; i < n; i++) {
          const a = (map.data[i] as number) - mean, b = (want[i] as number) - meanB;
          const d = Math.abs((map.data[i] as number) - (want[i] as number));
          maxDiff = Math.max(maxDiff, d);
          sumDiff += d;
          sab += a * b; saa += a * a; sbb += b * b;
        }
        const r = sab / Math.sqrt(saa * sbb);
        console.log(`demo: ${id} — sd ${sd.toFixed(3)}; page (webgpu) vs Node (cpu, ${((performance.now() - t0) / 1000).toFixed(1)} s): `
          + `max |Δ| ${maxDiff.toExponential(2)}, mean |Δ| ${(sumDiff / n).toExponential(2)}, r ${r.toFixed(6)}; ${await page.textContent('#status')}`);
        // Measured: max |Δ| ≤ 4.2e-6 for every method compared (float32 on both sides).
        expect(maxDiff, id).toBeLessThan(1e-4);
        expect(r, id).toBeGreaterThan(0.9999);
      }
      expect(tf.memory().numTensors).toBe(nodeBefore);
    } finally {
      dispose();
    }
    expect(pageErrors(page)).toEqual([]);
  }, 1_200_000);
});
