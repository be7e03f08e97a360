// saliency explain --workers N: the built CLI and the built worker entry, real face-api weights,
// real photos, real wasm kernels; worker processes are killed with real signals.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  explainFile, initBackend, loadClassifier, runCli, runExplainPool,
  type ExplainInput, type ExplainOutcome, type ExplainPoolEvent, type LoadedClassifier,
} from '@saliency/node';

const root = join(__dirname, '..', '..');
const cli = join(root, 'packages', 'node', 'dist', 'cli.js');
const demo = join(root, 'node_modules', '@vladmandic', 'face-api', 'demo');
const photos = ['sample2.jpg', 'sample3.jpg', 'sample4.jpg', 'sample5.jpg'].map((f) => join(demo, f));
const box = { x: 10, y: 10, width: 120, height: 120 };
const tmp = mkdtempSync(join(tmpdir(), 'saliency-explain-workers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runBuilt(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** stdout with the timings and the output folder taken out. */
function normalised(stdout: string, out: string): string[] {
  return stdout.split('\n').map((l) => l.split(out).join('<out>').replace(/\d+ ms$/, 'N ms'));
}

describe('saliency explain --workers', () => {
  beforeAll(() => {
    expect(existsSync(cli), 'build first: npm run build -w @saliency/node').toBe(true);
    expect(existsSync(join(root, 'packages', 'node', 'dist', 'explain_child.js')), 'build first: npm run build -w @saliency/node').toBe(true);
  });

  it('--workers 2 prints the same lines in the same order and writes the same files as --workers 0; an unreadable file fails in both', () => {
    const missing = join(tmp, 'missing.jpg');
    const inputs = [photos[0], photos[1], missing, photos[2], photos[3]];
    const runs = [0, 2].map((workers) => {
      const out = join(tmp, `cli-w${workers}`);
      const r = runBuilt(['explain', ...inputs, '--box', '10,10,120,120', '--method', 'gradcam', '--method', 'gradient', '--backend', 'wasm', '--workers', String(workers), '--out', out]);
      return { ...r, out };
    });
    for (const r of runs) {
      expect(r.status, r.stderr).toBe(1); // one image failed: reported, the others done, 1 at the end
      expect(r.stderr).toContain(`saliency: ${missing}: [BAD_OPTION] Cannot read image`);
      expect(r.stderr).toMatch(/saliency: 1 of 5 images failed\n$/);
      expect(r.stdout).not.toContain('missing.jpg');
    }
    const [inProcess, pooled] = runs;
    // Same lines, same order (4 images × 2 methods × 4 lines after the backend banner).
    expect(normalised(pooled.stdout, pooled.out)).toEqual(normalised(inProcess.stdout, inProcess.out));
    expect(inProcess.stdout.match(/ wrote /g)).toHaveLength(8);
    const files = readdirSync(inProcess.out).sort();
    expect(files).toHaveLength(4 * 2 * 3);
    expect(readdirSync(pooled.out).sort()).toEqual(files);
    for (const f of files) {
      const a = readFileSync(join(inProcess.out, f));
      const b = readFileSync(join(pooled.out, f));
      if (f.endsWith('.png')) {
        expect(b.equals(a), f).toBe(true);
      } else {
        const ja = JSON.parse(a.toString('utf8'));
        const jb = JSON.parse(b.toString('utf8'));
        for (const j of [ja, jb]) delete j.ms;
        expect(JSON.stringify(jb).split(pooled.out).join('<out>')).toBe(JSON.stringify(ja).split(inProcess.out).join('<out>'));
      }
    }
  });

  it('--workers that is not a whole number ≥ 0 is a usage error (exit 2, BAD_OPTION), for explain and eval alike; 0 is accepted', async () => {
    for (const bad of [['--workers', '-1'], ['--workers=-1'], ['--workers', 'abc'], ['--workers', '1.5'], ['--workers=']]) {
      const r = runBuilt(['explain', photos[0], ...bad, '--out', join(tmp, 'bad')]);
      expect(r.status, bad.join(' ')).toBe(2);
      expect(r.stderr, bad.join(' ')).toMatch(/\[BAD_OPTION\]/);
      expect(r.stdout).not.toMatch(/^backend:/m); // refused before the backend is chosen
    }
    await expect(runCli(['eval', '--dataset', 'voc:nowhere', '--model', 'digits', '--workers', 'abc'], () => undefined))
      .rejects.toMatchObject({ code: 'BAD_OPTION', message: expect.stringContaining('--workers must be a non-negative integer') });
    const zero = runBuilt(['explain', photos[0], '--box', '10,10,120,120', '--workers', '0', '--backend', 'wasm', '--out', join(tmp, 'zero')]);
    expect(zero.status, zero.stderr).toBe(0);
  });
});

describe('runExplainPool (the pool behind --workers)', () => {
  let model: LoadedClassifier;
  const inputs: ExplainInput[] = photos.map((path) => ({ path, target: 'top', region: box }));
  const reference = join(tmp, 'reference');

  beforeAll(async () => {
    await initBackend({ prefer: 'wasm', quiet: true });
    model = await loadClassifier({ preset: 'face' });
    // The reference: the same inputs explained in this process.
    for (const input of inputs) await explainFile(model.classifier, input.path, { method: 'gradcam', layer: model.camLayer, outDir: reference, region: box });
  });
  afterAll(() => model.dispose());

  const settings = (outDir: string) => ({ model: { preset: 'face' as const }, backend: 'wasm', methods: ['gradcam'], outDir });

  it('a worker SIGKILLed during an input is replaced and the input retried: every input explained once, in order, files as in process', async () => {
    const outDir = join(tmp, 'killed');
    const events: ExplainPoolEvent[] = [];
    const reported: { index: number; outcome: ExplainOutcome }[] = [];
    let killed = false;
    const before = tf.memory().numTensors;
    const r = await runExplainPool(inputs, {
      ...settings(outDir), workers: 2,
      onOutcome: (_input, outcome, index) => reported.push({ index, outcome }),
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'start' && e.index === 1 && !killed) {
          killed = true;
          process.kill(e.pid, 'SIGKILL');
        }
      },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(r).toEqual({ reported: 4, notStarted: 0 });
    expect(reported.map((o) => o.index)).toEqual([0, 1, 2, 3]);
    for (const { outcome } of reported) {
      expect(outcome.error).toBeNull();
      expect(outcome.summaries).toHaveLength(1);
    }
    expect(events.filter((e) => e.type === 'retry').map((e) => e.type === 'retry' && e.index)).toEqual([1]);
    expect(events.filter((e) => e.type === 'spawn')).toHaveLength(3); // two, and one in place of the killed one
    expect(events.filter((e) => e.type === 'exit' && e.signal === 'SIGKILL')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'exit' && e.signal == null && e.code === 0)).toHaveLength(2); // the others exit when the queue is empty
    expect(events.filter((e) => e.type === 'start' && e.index === 1)).toHaveLength(2);
    for (const f of readdirSync(reference)) {
      if (f.endsWith('.png')) expect(readFileSync(join(outDir, f)).equals(readFileSync(join(reference, f))), f).toBe(true);
    }
  });

  it('an input whose worker dies on both tries is reported failed (WORKER_FAILED); the others are done and the run ends', async () => {
    const reported: { index: number; outcome: ExplainOutcome }[] = [];
    const r = await runExplainPool(inputs, {
      ...settings(join(tmp, 'killed-twice')), workers: 2,
      onOutcome: (_input, outcome, index) => reported.push({ index, outcome }),
      onEvent: (e) => { if (e.type === 'start' && e.index === 2) process.kill(e.pid, 'SIGKILL'); },
    });
    expect(r).toEqual({ reported: 4, notStarted: 0 });
    expect(reported.map((o) => o.index)).toEqual([0, 1, 2, 3]);
    expect(reported[2].outcome.error).toMatchObject({ code: 'WORKER_FAILED', message: expect.stringMatching(/exited \(SIGKILL\) while explaining it \(2 tries\)/) });
    for (const i of [0, 1, 3]) expect(reported[i].outcome.error).toBeNull();
  });

  it('drains on its signal: the input in progress finishes and is reported, no other starts', async () => {
    const ctrl = new AbortController();
    const reported: number[] = [];
    const starts: number[] = [];
    const r = await runExplainPool(inputs, {
      ...settings(join(tmp, 'drained')), workers: 2, signal: ctrl.signal,
      onOutcome: (_input, outcome, index) => { expect(outcome.error).toBeNull(); reported.push(index); },
      onEvent: (e) => { if (e.type === 'start') { starts.push(e.index); ctrl.abort(); } },
    });
    expect(starts).toEqual([0]);
    expect(reported).toEqual([0]);
    expect(r).toEqual({ reported: 1, notStarted: 3 });
  });

  it('workers that cannot load the model fail the run once with the model\'s error code, without hanging', async () => {
    const events: ExplainPoolEvent[] = [];
    const reported: number[] = [];
    const before = tf.memory().numTensors;
    await expect(runExplainPool(inputs, {
      model: { path: join(tmp, 'no-such-model', 'model.json') }, backend: 'wasm', methods: ['gradcam'], outDir: join(tmp, 'no-model'), workers: 2,
      onOutcome: (_i, _o, index) => reported.push(index), onEvent: (e) => events.push(e),
    })).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringContaining('A worker process could not start') });
    expect(reported).toEqual([]);
    expect(events.filter((e) => e.type === 'start')).toEqual([]);
    expect(events.filter((e) => e.type === 'exit')).toHaveLength(events.filter((e) => e.type === 'spawn').length); // every worker exited
    expect(tf.memory().numTensors).toBe(before);
  });

  it('inputs that carry an error are reported without a worker, in their place; later faces of a failed image are not tried', async () => {
    const broken = new Error('cannot read');
    const list: ExplainInput[] = [
      { path: photos[0], target: 'top', region: box },
      { path: join(tmp, 'gone.jpg'), target: 'top', region: null, error: broken },
      { path: join(tmp, 'gone.jpg'), target: 'top', region: box, face: 2 },
      { path: photos[1], target: 'top', region: box },
    ];
    const reported: { index: number; outcome: ExplainOutcome }[] = [];
    const events: ExplainPoolEvent[] = [];
    const r = await runExplainPool(list, {
      ...settings(join(tmp, 'with-errors')), workers: 2,
      onOutcome: (_input, outcome, index) => reported.push({ index, outcome }), onEvent: (e) => events.push(e),
    });
    expect(reported.map((o) => o.index)).toEqual([0, 1, 3]);
    expect(reported[1].outcome).toEqual({ summaries: [], error: { message: 'cannot read' } });
    expect(events.filter((e) => e.type === 'start').map((e) => e.type === 'start' && e.index).sort()).toEqual([0, 3]);
    expect(r).toEqual({ reported: 3, notStarted: 0 });
  });
});
