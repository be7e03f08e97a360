/**
 * The examples and guides, as written: every example script runs from the repository root against
 * the BUILT packages (the suite runs after `npm run build`) and writes the files its README names;
 * every `npx --no-install saliency …` command of examples/cli.md runs with the exit status and the output shown
 * there and writes the files it says it wrote; every code block of the guides is a verbatim
 * excerpt of a file that runs (a test here or the web tests), every output block is what the
 * script prints; the preprocessing table is computed; the gallery embedded in the method guide is
 * the generated one. PNGs are decoded and checked against what they must show (a map that spans
 * [0, 1]; for the hand-written colour classifier, hot pixels that are red in the photo).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { makePreprocess } from '@saliency/core/base';
import { useCpu } from '../setup_cpu';

const root = resolve(__dirname, '..', '..');
const read = (rel: string): string => readFileSync(join(root, rel), 'utf8');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node <args>` in the repository root (two minutes at most), without blocking this worker:
 * a spawnSync of a minute starves vitest's RPC ("Timeout calling onTaskUpdate").
 */
function node(args: string[]): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGTERM'), 120_000);
    child.on('error', (e) => { clearTimeout(timer); fail(e); });
    child.on('close', (status) => { clearTimeout(timer); done({ status, stdout, stderr }); });
  });
}

const scriptRuns = new Map<string, Promise<Run>>();
/** Runs an example script once (as `node examples/…`) and remembers its output. */
function runScript(rel: string): Promise<Run> {
  let r = scriptRuns.get(rel);
  if (r == null) {
    r = node([rel]);
    scriptRuns.set(rel, r);
  }
  return r;
}

/** Output as the docs show it: the repository path as `<repo>`, times as `N ms`. */
function normalise(text: string): string {
  let s = text;
  for (const p of new Set([realpathSync(root), root])) s = s.split(p).join('<repo>');
  return s.replace(/\b\d+ ms\b/g, 'N ms');
}
const lines = (text: string): string[] => normalise(text).split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');

/** The tfjs backend `initBackend()` picks on this machine, as examples/node-basic/backend.mjs reports it. */
async function backendHere(): Promise<string | null> {
  return /^backend: (\S+)/m.exec((await runScript('examples/node-basic/backend.mjs')).stdout)?.[1] ?? null;
}

/** Decoded PNG: raw bytes, size and channels. */
async function png(path: string): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/**
 * The colour layer of an overlay written with alpha 0.5 over `image` (same size, RGB):
 * `colour = 2·overlay − image`, per pixel `R − B` in [−1, 1] (jet: −0.5 for a map value 0,
 * +0.5 for 1). Returns that "heat" per pixel.
 */
function heatOf(overlay: Buffer, image: Buffer, pixels: number): Float32Array {
  const heat = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) {
    const r = (2 * overlay[3 * i] - image[3 * i]) / 255;
    const b = (2 * overlay[3 * i + 2] - image[3 * i + 2]) / 255;
    heat[i] = r - b;
  }
  return heat;
}

/** Smallest and largest value (a loop: spreading a large array into Math.min overflows the stack). */
function extent(values: ArrayLike<number>): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) { lo = Math.min(lo, values[i]); hi = Math.max(hi, values[i]); }
  return [lo, hi];
}

/** Standard deviation of all bytes of a decoded image. */
function spread(data: Buffer): number {
  let s = 0, s2 = 0;
  for (const v of data) { s += v; s2 += v * v; }
  const m = s / data.length;
  return Math.sqrt(Math.max(0, s2 / data.length - m * m));
}

/** An overlay PNG that decodes, has the expected size, and is not a flat picture. */
async function expectOverlay(rel: string, width?: number, height?: number): Promise<void> {
  const p = join(root, rel);
  expect(existsSync(p), `${rel} exists`).toBe(true);
  const img = await png(p);
  expect(img.channels).toBe(3);
  if (width != null) expect([img.width, img.height]).toEqual([width, height]);
  expect(spread(img.data)).toBeGreaterThan(10);
}

/** The files a markdown page's output lines say were written. */
function writtenFiles(outputLines: string[]): string[] {
  return outputLines.flatMap((l) => {
    const m = /\bwrote (.+)$/.exec(l);
    if (m == null) return [];
    return m[1].replace(/ \(N ms\)$/, '').split(', ').map((f) => f.replace('<repo>', root));
  });
}

// ----------------------------------------------------------------------------------------------
// Markdown parsing

interface Fence {
  lang: string;
  body: string;
  /** The HTML comment right before the fence, if any (`snippet: path`, `output: path`). */
  marker: string | null;
  line: number;
}

/** Fenced code blocks of a markdown file, with the `<!-- … -->` marker that precedes each. */
function fences(md: string): Fence[] {
  const out: Fence[] = [];
  const all = md.split('\n');
  for (let i = 0; i < all.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(all[i]);
    if (open == null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < all.length && !/^\s*```\s*$/.test(all[i]); i++) body.push(all[i].slice(open[1].length));
    let j = start - 1;
    while (j >= 0 && all[j].trim() === '') j--;
    const marker = j >= 0 ? /^<!--\s*(.+?)\s*-->$/.exec(all[j].trim())?.[1] ?? null : null;
    out.push({ lang: open[2], body: body.join('\n'), marker, line: start + 1 });
  }
  return out;
}

const GUIDES = ['getting-started.md', 'choosing-a-method.md', 'bring-your-own-model.md', 'backends.md', 'evaluating-faithfulness.md', 'training-the-masking-model.md', 'performance.md', 'README.md']
  .map((f) => `docs/guides/${f}`);
const PAGES = [...GUIDES, 'examples/node-basic/README.md', 'examples/custom-model/README.md', 'examples/cli.md'];

// ----------------------------------------------------------------------------------------------

beforeAll(() => {
  expect(existsSync(join(root, 'packages', 'node', 'dist', 'cli.js')), 'run `npm run build` before the tests').toBe(true);
  for (const dir of ['node-basic', 'custom-model', 'cli', 'evaluate', 'train-masker']) rmSync(join(root, 'out', dir), { recursive: true, force: true });
});

describe('examples/node-basic (run as written, built packages)', () => {
  it('index.mjs writes out/node-basic/gradcam.png: the 239×239 face with a map that spans [0, 1]', async () => {
    const r = await runScript('examples/node-basic/index.mjs');
    expect(r.status, r.stderr).toBe(0);
    expect(read('examples/node-basic/README.md')).toContain('out/node-basic/gradcam.png');
    const overlay = await png(join(root, 'out/node-basic/gradcam.png'));
    // The face crop, independently: face-api's box of the first face, padded to a centred square.
    const box = { x: 414, y: 354, width: 177, height: 239 };
    const side = Math.max(box.width, box.height);
    expect([overlay.width, overlay.height, overlay.channels]).toEqual([side, side, 3]);
    const left = Math.round(box.x + box.width / 2 - side / 2);
    const face = await sharp(join(root, 'node_modules/@vladmandic/face-api/demo/sample1.jpg'))
      .extract({ left, top: box.y, width: side, height: side }).removeAlpha().raw().toBuffer();
    const heat = heatOf(overlay.data, face, side * side);
    // jet at 0 is (0, 0, 0.5) and at 1 (0.5, 0, 0): a min-max normalised map reaches both ends.
    const [lo, hi] = extent(heat);
    expect(lo).toBeLessThan(-0.4);
    expect(hi).toBeGreaterThan(0.4);
  });

  it('backend.mjs reports the chosen backend, the skipped ones, and what prefer does', async () => {
    const r = await runScript('examples/node-basic/backend.mjs');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backend: (tensorflow|wasm|cpu) \(via @tensorflow\/tfjs-/);
    expect(r.stdout).toMatch(/^prefer 'tensorflow': /m);
  });
});

describe('examples/evaluate and examples/train-masker (run as written, built packages)', () => {
  it('evaluate/index.mjs writes out/evaluate/metrics.json with AUCs in [0, 1] and the metric of its box', async () => {
    const r = await runScript('examples/evaluate/index.mjs');
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(read('out/evaluate/metrics.json')) as {
      insertion: number; deletion: number; overall: number; box: { width: number; height: number };
      metric: { value: number; area: number; probability: number }; curves: { fractions: number[]; insertion: number[] };
    };
    for (const v of [m.insertion, m.deletion]) expect(v >= 0 && v <= 1).toBe(true);
    expect(m.overall).toBeCloseTo(m.insertion - m.deletion, 12);
    // the saliency metric is log(max(a, 0.05)) − log(p) of what it reports
    expect(m.metric.value).toBeCloseTo(Math.log(Math.max(m.metric.area, 0.05)) - Math.log(m.metric.probability), 6);
    expect(m.curves.fractions[0]).toBe(0);
    expect(m.curves.fractions.at(-1)).toBe(1);
  });

  it('train-masker/index.mjs trains, saves, reloads and writes out/train-masker/mask.png', async () => {
    rmSync(join(root, 'out', 'train-masker'), { recursive: true, force: true });
    const r = await runScript('examples/train-masker/index.mjs');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('trained 20 steps (resumed from 0)');
    expect(existsSync(join(root, 'out/train-masker/model.json'))).toBe(true);
    expect(existsSync(join(root, 'out/train-masker/checkpoint/model.json'))).toBe(true);
    expect((await png(join(root, 'out/train-masker/mask.png'))).width).toBe(224);
  });
});

describe('examples/custom-model (run as written, built packages)', () => {
  it('index.mjs (fromFunction): the hottest pixels of both maps of "red" are red in the photo', async () => {
    const r = await runScript('examples/custom-model/index.mjs');
    expect(r.status, r.stderr).toBe(0);
    const readme = read('examples/custom-model/README.md');
    const region = { left: 90, top: 160, width: 660, height: 1120 };
    const photo = await sharp(join(root, 'node_modules/@vladmandic/face-api/demo/sample1.jpg')).extract(region).removeAlpha().raw().toBuffer();
    const n = region.width * region.height;
    // Redness as the model defines it (hand computation): R − (G + B) / 2, in 0–255 units.
    const redness = (i: number) => photo[3 * i] - (photo[3 * i + 1] + photo[3 * i + 2]) / 2;
    let all = 0;
    for (let i = 0; i < n; i++) all += redness(i);
    for (const name of ['gradient', 'gradcam']) {
      const rel = `out/custom-model/${name}.png`;
      expect(readme).toContain(rel);
      const overlay = await png(join(root, rel));
      expect([overlay.width, overlay.height]).toEqual([region.width, region.height]);
      const heat = heatOf(overlay.data, photo, n);
      let hot = 0, hotRed = 0;
      for (let i = 0; i < n; i++) if (heat[i] > 0.3) { hot++; hotRed += redness(i); }
      // The class responds to redness above 0.25·255 ≈ 64: where the map is hot, the photo is that red.
      expect(hot / n).toBeGreaterThan(0.005);
      expect(hotRed / hot).toBeGreaterThan(60);
      expect(hotRed / hot - all / n).toBeGreaterThan(40);
    }
  });

  it('layers-model.mjs (fromLayersModel, softmax stripped, loaded from disk): the same Grad-CAM as the function model', async () => {
    await runScript('examples/custom-model/index.mjs');
    const r = await runScript('examples/custom-model/layers-model.mjs');
    expect(r.status, r.stderr).toBe(0);
    const readme = read('examples/custom-model/README.md');
    for (const rel of ['out/custom-model/colour-model/model.json', 'out/custom-model/colour-model/weights.bin', 'out/custom-model/layers-gradcam.png']) {
      expect(readme).toContain(rel);
      expect(existsSync(join(root, rel)), rel).toBe(true);
    }
    const json = JSON.parse(read('out/custom-model/colour-model/model.json')) as { weightsManifest: { paths: string[] }[] };
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    // 1×1×3×3 kernel + 3 biases + 3×3 dense + 3 biases = 24 float32.
    expect(statSync(join(root, 'out/custom-model/colour-model/weights.bin')).size).toBe(24 * 4);
    // softmax(classifier.logits) equals model.predict.
    expect(r.stdout).toMatch(/\|softmax\(logits\) − predict\| ≤ 0\.0e\+0/);
    const a = await png(join(root, 'out/custom-model/gradcam.png'));
    const b = await png(join(root, 'out/custom-model/layers-gradcam.png'));
    let diff = 0;
    for (let i = 0; i < a.data.length; i++) diff = Math.max(diff, Math.abs(a.data[i] - b.data[i]));
    expect(diff).toBeLessThanOrEqual(2);
  });

  it('graph-model.mjs (fromGraphModel) writes its Grad-CAM overlay of the photograph', async () => {
    const r = await runScript('examples/custom-model/graph-model.mjs');
    expect(r.status, r.stderr).toBe(0);
    expect(read('examples/custom-model/README.md')).toContain('out/custom-model/graph-gradcam.png');
    await expectOverlay('out/custom-model/graph-gradcam.png', 500, 333);
    expect(r.stdout).toMatch(/tensors left: 0$/m);
  });
});

describe('examples/cli.md: every command, as written', () => {
  const md = read('examples/cli.md');
  const sessions = fences(md).filter((f) => f.lang === 'console');

  it('has commands', () => {
    expect(sessions.length).toBeGreaterThanOrEqual(5);
  });

  sessions.forEach((block, k) => {
    const [first, ...shown] = block.body.split('\n');
    const command = first.replace(/^\$ /, '');
    it(`${k + 1}: ${command.replace(/\s+#.*$/, '')}`, async () => {
      expect(first.startsWith('$ npx --no-install saliency ')).toBe(true);
      const wantStatus = Number(/#.*status (\d+)/.exec(command)?.[1] ?? 0);
      const args = command.replace(/\s+#.*$/, '').split(/\s+/).slice(3);
      const r = await node([join('packages', 'node', 'bin', 'saliency.js'), ...args]);
      expect(r.status, r.stderr).toBe(wantStatus);
      const want = lines(shown.join('\n'));
      // Dawn (WebGPU, probed by initBackend) notes lavapipe's reduced limits on stderr; not the CLI's output.
      // The wasm thread line depends on the machine's cores and on SALIENCY_WORKER_PROCESS (set for
      // vitest's workers), so the transcripts leave it out.
      const got = lines(`${r.stdout}\n${r.stderr}`).filter((l) => !/^Warning: maxDynamic\w+ artificially reduced /.test(l) && !l.startsWith('  wasm threads: '));
      const backendBlock = (l: string) => /^(backend: |  skipped |  gradient kernels |=+$|Hi, looks like)/.test(l);
      if (got.find((l) => l.startsWith('backend: ')) === want.find((l) => l.startsWith('backend: '))) {
        expect([...got].sort()).toEqual([...want].sort());
      } else {
        expect(got.filter((l) => !backendBlock(l)).sort()).toEqual(want.filter((l) => !backendBlock(l)).sort());
      }
      for (const file of writtenFiles(want)) {
        expect(existsSync(file), file).toBe(true);
        if (file.endsWith('.json')) {
          const summary = JSON.parse(readFileSync(file, 'utf8')) as { files: { overlay: string }; target: { name: string } };
          expect(existsSync(summary.files.overlay)).toBe(true);
          expect(want.some((l) => l.includes(` for ${summary.target.name}: `))).toBe(true);
        } else if (file.endsWith('.map.png')) {
          expect((await sharp(file).metadata()).channels).toBe(1);   // grayscale
          expect(extent((await png(file)).data)).toEqual([0, 255]);   // min-max normalised: both ends reached
        } else {
          expect((await png(file)).channels).toBe(3);
          expect(spread((await png(file)).data)).toBeGreaterThan(5);
        }
      }
    });
  });
});

describe('the guides', () => {
  it('every code block is a verbatim excerpt of a file that runs (`snippet:` in the file\'s order, `excerpts:` in any order; comments aside)', () => {
    let blocks = 0;
    for (const page of PAGES) {
      for (const f of fences(read(page))) {
        if (!['js', 'ts', 'mjs'].includes(f.lang)) continue;
        const m = /^(snippet|excerpts): (\S+)$/.exec(f.marker ?? '');
        expect(m, `${page}:${f.line} needs <!-- snippet: file --> or <!-- excerpts: file -->`).not.toBeNull();
        const [, kind, source] = m as RegExpExecArray;
        const have = read(source).split('\n').map((l) => l.trim());
        let at = 0;
        for (const l of f.body.split('\n').map((x) => x.trim())) {
          if (l === '' || l.startsWith('//')) continue;
          const found = have.indexOf(l, kind === 'snippet' ? at : 0);
          expect(found, `${page}:${f.line}: "${l}" not found${kind === 'snippet' ? ' (in order)' : ''} in ${source}`).toBeGreaterThanOrEqual(0);
          if (kind === 'snippet') at = found + 1;
        }
        blocks++;
      }
    }
    expect(blocks).toBeGreaterThanOrEqual(10);
  });

  it('every output block is what its script prints (on the wasm backend they were recorded on)', async () => {
    const wasm = (await backendHere()) === 'wasm';
    let checked = 0;
    for (const page of PAGES) {
      for (const f of fences(read(page))) {
        const script = /^output: (\S+)$/.exec(f.marker ?? '')?.[1];
        if (script == null) continue;
        const r = await runScript(script);
        expect(r.status, `${script}: ${r.stderr}`).toBe(0);
        if (!wasm) continue;
        const got = lines(r.stdout);
        for (const l of lines(f.body)) expect(got, `${page}:${f.line} (${script})`).toContain(l);
        checked++;
      }
    }
    expect(checked).toBe(wasm ? 10 : 0);
  });

  it('every `npx --no-install saliency` command in the guides is one that examples/cli.md runs', () => {
    const cli = read('examples/cli.md');
    for (const page of GUIDES) {
      for (const f of fences(read(page))) {
        for (const l of f.body.split('\n').filter((x) => x.startsWith('npx --no-install saliency '))) {
          expect(cli, `${page}:${f.line}`).toContain(`$ ${l}`);
        }
      }
    }
  });

  it('every relative link and image exists; every PNG they show decodes', async () => {
    for (const page of PAGES) {
      const md = read(page);
      for (const m of md.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1].split('#')[0];
        if (target === '' || /^[a-z]+:/.test(target)) continue;
        const path = resolve(root, dirname(page), target);
        expect(existsSync(path), `${page} → ${m[1]}`).toBe(true);
        if (path.endsWith('.png')) expect((await png(path)).width).toBeGreaterThan(50);
      }
    }
  });

  it('choosing-a-method.md embeds the generated gallery verbatim, and the gallery has a tile per method', () => {
    const gallery = read('docs/gallery/gallery.md');
    expect(read('docs/guides/choosing-a-method.md')).toContain(gallery.trim());
    for (const id of ['gradient', 'guided', 'smoothgrad', 'tencrop', 'gradcam', 'groupcam', 'scorecam', 'rise', 'gradcampp', 'xgradcam',
      'layercam', 'hirescam', 'eigencam', 'ablationcam', 'guidedgradcam', 'inputxgradient', 'integratedgradients', 'occlusion']) {
      expect(gallery).toContain(`(../gallery/face-${id}.png)`);
      expect(gallery).toContain(`(../gallery/face-${id}-sess.png)`);
    }
    const files = readdirSync(join(root, 'docs', 'gallery'));
    for (const m of gallery.matchAll(/\(\.\.\/gallery\/([^)]+)\)/g)) expect(files).toContain(m[1]);
  });

  it('the preprocessing table of bring-your-own-model.md is what makePreprocess computes', async () => {
    await useCpu();
    const md = read('docs/guides/bring-your-own-model.md');
    const table = md.slice(md.indexOf('| model trained on | `preprocess` |'));
    const body = table.split('\n').slice(2);
    const end = body.findIndex((l) => !l.startsWith('|'));
    const rows = end < 0 ? body : body.slice(0, end); // the table ends at its first non-row line
    expect(rows.length).toBe(5);
    const before = tf.memory().numTensors;
    for (const row of rows) {
      const cells = row.split(' | ').map((c) => c.replace(/^\|?\s*|\s*\|?$/g, ''));
      const spec = new Function(`return (${cells[1].replace(/^`|`$/g, '')});`)() as object;
      const f = makePreprocess(spec, 3);
      for (const [pixel, cell] of [[0, cells[2]], [255, cells[3]]] as const) {
        const out = tf.tidy(() => f(tf.fill([1, 2, 2, 3], pixel) as tf.Tensor4D));
        const red = (await out.data())[0];
        out.dispose();
        expect(red, `${cells[0]}: pixel ${pixel}`).toBeCloseTo(Number(cell), 4);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
