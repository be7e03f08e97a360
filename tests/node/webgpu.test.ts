/**
 * WebGPU in Node over Dawn (the `webgpu` npm package) on Mesa's lavapipe: the chooser's order
 * and reasons, and every method, SESS and a metric on the real bundled models against the cpu
 * backend. The maps are computed in a child process (tests/node/webgpu_parity_child.ts): tfjs
 * backends are process-global, and the long synchronous kernels of the cpu reference must not
 * block this test worker.
 *
 * Needs lavapipe (Mesa ≥ 25 from bookworm-backports; `.ci/run` installs it as root): without
 * it this file FAILS with the install command.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@saliency/node';
import { LAVAPIPE_INSTALL_COMMAND } from '../../packages/node/src/webgpu_backend';

const ROOT = resolve(__dirname, '../..');
const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';
const VITE_NODE = join(ROOT, 'node_modules/vite-node/vite-node.mjs');
/** The cpu reference and lavapipe on MobileNetV2 take minutes on a busy 2-core machine. */
const SLOW = 1_800_000;
/**
 * The vanilla-gradient map of MobileNetV2 (max |∂logit/∂x| over channels: a float32 gradient
 * through ~150 kernels, summed in another order on each backend) differs by up to 8.9e-4
 * (Spearman 0.999999) in the measured run; guided backprop's, 3e-7. Every other map and the
 * metric must agree to 1e-4.
 */
const INPUT_GRADIENT_TOL = 2e-3;

function requireLavapipe(): void {
  if (!existsSync(LAVAPIPE_ICD)) {
    throw new Error(`WebGPU tests need Mesa's lavapipe Vulkan driver (${LAVAPIPE_ICD} is missing). Install it as root:\n  ${LAVAPIPE_INSTALL_COMMAND}`);
  }
}

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

/** Runs a script with vite-node (the TypeScript sources, vitest's aliases) without blocking this worker. */
function viteNode(args: string[], env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Promise<{ status: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [...nodeArgs, VITE_NODE, '--config', join(ROOT, 'vitest.config.ts'), ...args], { cwd: ROOT, env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout.resume();
    child.on('close', (status) => done({ status, stderr }));
  });
}

describe('initBackend with the webgpu package and lavapipe', () => {
  beforeAll(() => {
    requireLavapipe();
    process.env.VK_ICD_FILENAMES = LAVAPIPE_ICD; // read by the Vulkan loader when Dawn starts
  });

  it('by default skips WebGPU on a CPU adapter, says why and which adapter, and picks wasm', async () => {
    const choice = await initBackend({ quiet: true });
    expect(choice.name).toBe('wasm');
    expect(choice.skipped.map((s) => s.backend)).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow']);
    const w = choice.skipped[1];
    expect(w.package).toBe('webgpu');
    expect(w.reason).toBe("the WebGPU adapter is 'mesa/software', a CPU device (slower than wasm); pass prefer: 'webgpu' to use it anyway");
    expect(choice.adapter).toMatchObject({ name: 'mesa/software', vendor: 'mesa', architecture: 'software', isCpu: true });
    expect(choice.adapter?.description).toMatch(/^llvmpipe/);
    expect(tf.getBackend()).toBe('wasm');
  });

  it("prefer: 'webgpu' uses the CPU adapter, reports it, has every gradient kernel, and computes", async () => {
    const choice = await initBackend({ prefer: 'webgpu' });
    expect(choice).toMatchObject({ name: 'webgpu', via: 'webgpu', skipped: [], bridgedKernels: [] });
    expect(tf.getBackend()).toBe('webgpu');
    expect(choice.adapter).toMatchObject({ name: 'mesa/software', isCpu: true });
    expect((await initBackend({ prefer: 'webgpu' })).name).toBe('webgpu');
    // a gradient through a strided depthwise conv and a relu, read back asynchronously, against the analytic sum
    const before = tf.memory().numTensors;
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.relu(tf.depthwiseConv2d(x as tf.Tensor4D, tf.ones([3, 3, 2, 1]), 2, 'valid'))))(tf.ones([1, 5, 5, 2])));
    const v = await g.data();
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // 2×2 outputs of 3×3 windows, stride 2: pixel (i, j) is in (#windows over rows) × (#windows over columns).
    const cover = [1, 1, 2, 1, 1];
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) for (let c = 0; c < 2; c++) expect(v[(i * 5 + j) * 2 + c]).toBe(cover[i] * cover[j]);
  });
});

describe('the maps on webgpu (lavapipe) equal the cpu backend, on the real models', () => {
  let dir: string;
  let result: { labels: string[]; choice: { name: string; adapter?: { isCpu: boolean } }; leaked: Record<string, Record<string, number>>; backendAtEnd: string };
  const map = (i: number, backend: string): Float32Array => {
    const b = readFileSync(join(dir, `${i}-${backend}.f32`));
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };

  beforeAll(async () => {
    requireLavapipe();
    dir = mkdtempSync(join(tmpdir(), 'saliency-webgpu-'));
    const r = await viteNode([join(ROOT, 'tests/node/webgpu_parity_child.ts'), dir], { ...process.env, VK_ICD_FILENAMES: LAVAPIPE_ICD });
    if (r.status !== 0) throw new Error(`the parity child failed (${r.status}): ${r.stderr.slice(-3000)}`);
    console.log(r.stderr.split('\n').filter((l) => /^(cpu|webgpu) /.test(l)).join('\n'));
    result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
  }, SLOW);
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('ran on webgpu with the lavapipe adapter, and left no tensor behind on either backend', () => {
    expect(result.choice.name).toBe('webgpu');
    expect(result.choice.adapter?.isCpu).toBe(true);
    expect(result.backendAtEnd).toBe('webgpu');
    for (const b of ['cpu', 'webgpu']) {
      expect(Object.keys(result.leaked[b]).length).toBe(result.labels.length);
      for (const [label, n] of Object.entries(result.leaked[b])) expect(n, `${b} ${label}`).toBe(0);
    }
  });

  it.each([
    ['face', 'Grad-CAM'], ['face', 'vanilla gradient'], ['face', 'guided backprop'], ['face', 'RISE (N = 32)'], ['face', 'SESS(Grad-CAM)'],
    ['MobileNetV2', 'Grad-CAM'], ['MobileNetV2', 'vanilla gradient'], ['MobileNetV2', 'guided backprop'], ['MobileNetV2', 'RISE (N = 32)'],
    ['MobileNetV2', 'SESS(Grad-CAM)'], ['face', 'insertion/deletion curves'],
  ])('%s %s: max |Δ| ≤ 1e-4 (MobileNetV2 vanilla gradient: INPUT_GRADIENT_TOL), Spearman ≥ 0.999', (model, what) => {
    const label = `${model} ${what}`;
    const i = result.labels.indexOf(label);
    expect(i, label).toBeGreaterThanOrEqual(0);
    const a = map(i, 'webgpu'), b = map(i, 'cpu');
    expect(a.length).toBe(b.length);
    expect(b.some((v) => v > 0)).toBe(true); // a real map, not all zeros
    expect(Math.max(...b.slice(0, 4096))).toBeLessThanOrEqual(1 + 1e-6); // maps and curves are in [0, 1]
    let d = 0;
    for (let k = 0; k < a.length; k++) d = Math.max(d, Math.abs(a[k] - b[k]));
    const rho = spearman(a, b);
    console.log(`${label}: webgpu (lavapipe) vs cpu max |Δ| ${d.toExponential(2)}, Spearman ${rho.toFixed(6)}`);
    const inputGradient = model === 'MobileNetV2' && what === 'vanilla gradient';
    expect(d).toBeLessThanOrEqual(inputGradient ? INPUT_GRADIENT_TOL : 1e-4);
    expect(rho).toBeGreaterThanOrEqual(0.999);
  });
});

describe('without the webgpu package (a child process whose resolver cannot find it)', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'saliency-no-webgpu-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('initBackend skips webgpu as not installed; prefer: webgpu throws BACKEND_UNAVAILABLE', async () => {
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
    const r = await viteNode([join(dir, 'main.ts')], { ...process.env, VK_ICD_FILENAMES: LAVAPIPE_ICD },
      ['--import', pathToFileURL(join(dir, 'register.mjs')).href]);
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
