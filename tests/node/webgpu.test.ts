/**
 * WebGPU in Node over Dawn (the `webgpu` npm package) on Mesa's lavapipe: the chooser's order
 * and reasons, and every method, SESS and a metric on the real bundled models against the cpu
 * backend. The cpu maps are computed first and the models then move to webgpu: tensors never
 * move back (that would read WebGPU buffers synchronously, which Node cannot).
 *
 * Needs lavapipe (Mesa ≥ 25 from bookworm-backports; `.ci/run` installs it as root): without
 * it this file FAILS with the install command.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradCam, guidedBackprop, rise, vanillaGradient, type SaliencyMethod } from '@saliency/core';
import { sess } from '@saliency/sess';
import { insertionDeletion } from '@saliency/metrics';
import { initBackend, loadFaceExpressionClassifier, loadMobileNetV2Classifier, readImage, sampleFaces, type BundledClassifier } from '@saliency/node';
import { LAVAPIPE_INSTALL_COMMAND } from '../../packages/node/src/webgpu_backend';

const ROOT = resolve(__dirname, '../..');
const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';
/** MobileNetV2 on the cpu backend (the reference) and on lavapipe takes minutes on a busy 2-core machine. */
const SLOW = 900_000;

let face: BundledClassifier;
let mobilenet: BundledClassifier;
let faces: tf.Tensor4D;
let photo: tf.Tensor4D;
let faceLarge: tf.Tensor4D;
let photoLarge: tf.Tensor4D;

function ranks(a: Float32Array): Float64Array {
  const idx = Array.from(a.keys()).sort((i, j) => a[i] - a[j]);
  const r = new Float64Array(a.length);
  for (let s = 0; s < idx.length;) {
    let e = s;
    while (e + 1 < idx.length && a[idx[e + 1]] === a[idx[s]]) e++;
    for (let k = s; k <= e; k++) r[idx[k]] = (s + e) / 2; // ties share their mean rank
    s = e + 1;
  }
  return r;
}

/** Spearman's rank correlation (Pearson of the tie-averaged ranks). */
function spearman(a: Float32Array, b: Float32Array): number {
  const ra = ranks(a), rb = ranks(b);
  const n = a.length, m = (n - 1) / 2;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (ra[i] - m) * (rb[i] - m); saa += (ra[i] - m) ** 2; sbb += (rb[i] - m) ** 2; }
  return sab / Math.sqrt(saa * sbb);
}

interface Case {
  label: string;
  run: () => Promise<tf.Tensor>;
}

const cases: Case[] = [];
const cpuMaps = new Map<string, Float32Array>();

function addCases(): void {
  const faceCam = (): SaliencyMethod => gradCam({ layer: 'dense3' });
  const mnCam = (): SaliencyMethod => gradCam({ layer: mobilenet.camLayer });
  const rise32 = (): SaliencyMethod => rise({ n: 32, batchSize: 16, seed: 7 });
  const sess2 = (m: () => SaliencyMethod): SaliencyMethod => sess(m(), { scales: 2, smooth: false });
  for (const [name, c, x, xl, cam] of [
    ['face', () => face, () => faces, () => faceLarge, faceCam],
    ['MobileNetV2', () => mobilenet, () => photo, () => photoLarge, mnCam],
  ] as const) {
    const on = (m: () => SaliencyMethod, img: () => tf.Tensor4D) => () => m().explain(c().classifier, img(), 'top');
    cases.push(
      { label: `${name} Grad-CAM`, run: on(cam, x) },
      { label: `${name} vanilla gradient`, run: on(() => vanillaGradient(), x) },
      { label: `${name} guided backprop`, run: on(() => guidedBackprop(), x) },
      { label: `${name} RISE (N = 32)`, run: on(rise32, x) },
      { label: `${name} SESS(Grad-CAM), 2 scales`, run: on(() => sess2(cam), xl) },
    );
  }
  // A metric: insertion/deletion curves of one face under a fixed map with distinct values (no ties to order).
  cases.push({
    label: 'face: insertion/deletion curves',
    run: async () => {
      const image = tf.tidy(() => tf.squeeze(tf.slice(faces, [0, 0, 0, 0], [1, -1, -1, -1]), [0]) as tf.Tensor3D);
      const map = tf.tidy(() => tf.div(tf.mod(tf.add(tf.mul(tf.range(0, 112 * 112, 1, 'int32'), 7919), 13), 112 * 112).reshape([112, 112]).toFloat(), 112 * 112) as tf.Tensor2D);
      const r = await insertionDeletion(face.classifier, image, map, 1, { step: 112 * 8 });
      tf.dispose([image, map]);
      return tf.tensor([...r.curves.deletion, ...r.curves.insertion, r.insertion, r.deletion]);
    },
  });
}

/** Runs every case on the active backend; returns the maps and checks that no tensor is left behind. */
async function runAll(into: Map<string, Float32Array>, which: readonly Case[]): Promise<void> {
  for (const c of which) {
    const before = tf.memory().numTensors;
    const t = await c.run();
    into.set(c.label, (await t.data()) as Float32Array);
    t.dispose();
    expect(tf.memory().numTensors, c.label).toBe(before);
  }
}

beforeAll(async () => {
  if (!existsSync(LAVAPIPE_ICD)) {
    throw new Error(`WebGPU tests need Mesa's lavapipe Vulkan driver (${LAVAPIPE_ICD} is missing). Install it as root:\n  ${LAVAPIPE_INSTALL_COMMAND}`);
  }
  process.env.VK_ICD_FILENAMES = LAVAPIPE_ICD; // read by the Vulkan loader when Dawn starts
  await initBackend({ prefer: 'cpu', quiet: true });
  face = await loadFaceExpressionClassifier();
  mobilenet = await loadMobileNetV2Classifier();
  const sample = sampleFaces()[0];
  const crops = await Promise.all(sample.faces.map((f) => readImage(sample.path, { region: f.box, square: true })));
  const img = await readImage(sample.path);
  const resized = (d: { data: Float32Array | Uint8Array | number[]; width: number; height: number }, size: [number, number]) =>
    tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(d.data), [1, d.height, d.width, 3]), size, false, true);
  [faces, faceLarge, photo, photoLarge] = tf.tidy(() => [
    tf.concat(crops.slice(0, 2).map((c) => resized(c, [112, 112]))) as tf.Tensor4D,
    resized(crops[0], [150, 140]) as tf.Tensor4D,
    resized(img, [224, 224]) as tf.Tensor4D,
    resized(img, [224, 260]) as tf.Tensor4D,
  ]);
  addCases();
});

afterAll(() => {
  face?.dispose();
  mobilenet?.dispose();
  tf.dispose([faces, faceLarge, photo, photoLarge]);
});

describe('initBackend with the webgpu package and lavapipe', () => {
  it('by default skips WebGPU on a CPU adapter, says why and which adapter, and picks wasm', async () => {
    const choice = await initBackend({ quiet: true });
    expect(choice.name).toBe('wasm');
    expect(choice.skipped.map((s) => s.backend)).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow']);
    const w = choice.skipped[1];
    expect(w.package).toBe('webgpu');
    expect(w.reason).toBe("the WebGPU adapter is 'mesa/software', a CPU device (slower than wasm); pass prefer: 'webgpu' to use it anyway");
    expect(choice.adapter).toMatchObject({ vendor: 'mesa', architecture: 'software', isCpu: true });
    expect(choice.adapter?.description).toMatch(/^llvmpipe/);
    await initBackend({ prefer: 'cpu', quiet: true });
  });

  it.each(['face', 'MobileNetV2'])('%s: the cpu reference maps (computed before any tensor lives on webgpu)', async (model) => {
    expect(tf.getBackend()).toBe('cpu');
    await runAll(cpuMaps, cases.filter((c) => c.label.startsWith(model)));
  }, SLOW);

  it("prefer: 'webgpu' uses the CPU adapter, reports it, and has every gradient kernel", async () => {
    const choice = await initBackend({ prefer: 'webgpu' });
    expect(choice).toMatchObject({ name: 'webgpu', via: 'webgpu', skipped: [], bridgedKernels: [] });
    expect(tf.getBackend()).toBe('webgpu');
    expect(choice.adapter).toMatchObject({ name: 'mesa/software', isCpu: true });
    const again = await initBackend({ prefer: 'webgpu' });
    expect(again.name).toBe('webgpu');
  });

  it.each(['face', 'MobileNetV2'])('%s: Grad-CAM, vanilla gradient, guided backprop, RISE, SESS and a metric equal cpu (max |Δ| ≤ 1e-4, Spearman ≥ 0.999), no leaks', async (model) => {
    expect(tf.getBackend()).toBe('webgpu');
    const mine = cases.filter((c) => c.label.startsWith(model));
    const gpu = new Map<string, Float32Array>();
    await runAll(gpu, mine);
    for (const c of mine) {
      const a = gpu.get(c.label)!, b = cpuMaps.get(c.label)!;
      expect(a.length).toBe(b.length);
      let d = 0;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
      const rho = spearman(a, b);
      console.log(`${c.label}: webgpu (lavapipe) vs cpu max |Δ| ${d.toExponential(2)}, Spearman ${rho.toFixed(6)}`);
      expect(b.some((v) => v > 0), c.label).toBe(true); // a real map, not all zeros
      expect(d, c.label).toBeLessThanOrEqual(1e-4);
      expect(rho, c.label).toBeGreaterThanOrEqual(0.999);
    }
  }, SLOW);
});

describe('without the webgpu package (a child process whose resolver cannot find it)', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'saliency-no-webgpu-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('initBackend skips webgpu as not installed; prefer: webgpu throws BACKEND_UNAVAILABLE', () => {
    // A Node module-resolution hook that answers 'webgpu' like an absent package would.
    writeFileSync(join(dir, 'hooks.mjs'), `
export async function resolve(specifier, context, next) {
  const r = specifier === 'webgpu' ? null : await next(specifier, context);
  if (r == null || /[\\\\/]node_modules[\\\\/]webgpu[\\\\/]/.test(r.url)) {
    const e = new Error("Cannot find package 'webgpu' imported from " + (context.parentURL ?? '?'));
    e.code = 'ERR_MODULE_NOT_FOUND';
    throw e;
  }
  return r;
}
`);
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
    writeFileSync(join(dir, 'main.ts'), `
import { writeFileSync } from 'node:fs';
import { initBackend } from '@saliency/node';
const out: Record<string, unknown> = {};
const c = await initBackend({ quiet: true });
out.name = c.name;
out.skipped = c.skipped;
try { await initBackend({ prefer: 'webgpu' }); out.prefer = 'no error'; } catch (e) { out.prefer = { code: (e as { code?: string }).code, message: (e as Error).message }; }
writeFileSync(${JSON.stringify(join(dir, 'out.json'))}, JSON.stringify(out));
`);
    const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href,
      join(ROOT, 'node_modules/vite-node/vite-node.mjs'), '--config', join(ROOT, 'vitest.config.ts'), join(dir, 'main.ts')], {
      cwd: ROOT, encoding: 'utf8', env: { ...process.env, VK_ICD_FILENAMES: LAVAPIPE_ICD }, timeout: 180_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as {
      name: string; skipped: { backend: string; package: string; reason: string }[]; prefer: { code: string; message: string };
    };
    expect(out.name).toBe('wasm');
    expect(out.skipped.map((s) => s.backend)).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow']);
    expect(out.skipped[1].reason).toMatch(/^not installed \(.*'webgpu'/);
    expect(out.prefer.code).toBe('BACKEND_UNAVAILABLE');
    expect(out.prefer.message).toContain('[webgpu via webgpu: not installed');
  });
});
