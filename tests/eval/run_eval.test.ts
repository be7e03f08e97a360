// The evaluation suite end to end on real models and real images (a tiny subset): every metric is
// produced, the report is written, a rerun resumes instead of recomputing, and no tensor leaks.
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, runCli } from '@saliency/node';
import { runEvaluation } from '../../packages/eval/src/run_eval.js';
import type { EvalRecord } from '../../packages/eval/src/records.js';

const readRecords = (dir: string): EvalRecord[] =>
  readFileSync(join(dir, 'records.jsonl'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as EvalRecord);

describe('saliency eval (runEvaluation)', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm', quiet: true });
  });

  it('measures Grad-CAM ± SESS on generated scenes and faces, writes the report, and resumes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'eval-'));
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const first = await runEvaluation({
      sets: ['generated', 'faces'], methods: ['gradcam'], out, limit: 2, overlays: 1,
      onProgress: (p) => progress.push(p.done),
    });
    expect(tf.memory().numTensors).toBe(before);
    // 2 generated images × (gradcam, gradcam+sess, gt-box) + 2 faces × (gradcam, gradcam+sess)
    expect(first.computed).toBe(10);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const records = readRecords(out);
    expect(records).toHaveLength(10);
    for (const r of records.filter((x) => x.variant !== 'gt-box')) {
      expect(r.insertion).toBeGreaterThanOrEqual(0);
      expect(r.insertion).toBeLessThanOrEqual(1);
      expect(r.deletion).toBeGreaterThanOrEqual(0);
      expect(r.curves?.fractions[0]).toBe(0);
      expect(r.curves?.fractions.at(-1)).toBe(1);
      expect(typeof r.hit).toBe('boolean');
      expect(Number.isFinite(r.saliencyMetric)).toBe(true);
      expect(r.ms).toBeGreaterThan(0);
    }
    // Localisation only where boxes bound the object (generated), not for facial regions.
    expect(records.filter((r) => r.set === 'generated' && r.variant !== 'gt-box').every((r) => r.iou != null && r.iou >= 0 && r.iou <= 1)).toBe(true);
    expect(records.filter((r) => r.set === 'faces').every((r) => r.iou == null)).toBe(true);
    // The gt-box row's saliency metric is that of the true box: log(max(a, 0.05)) − log(p) ≥ log(0.05).
    for (const r of records.filter((x) => x.variant === 'gt-box')) expect(r.saliencyMetric).toBeGreaterThanOrEqual(Math.log(0.05) - 1e-9);
    // The generated targets are the labels; the faces' are the model's top class.
    expect(first.rows.map((r) => `${r.set}/${r.variant}`)).toEqual(['generated/gradcam', 'generated/gradcam+sess', 'generated/gt-box', 'faces/gradcam', 'faces/gradcam+sess']);
    const html = readFileSync(first.files.html, 'utf8');
    expect(html).toContain('<h2>generated</h2>');
    expect(html).toContain('<polyline');
    const overlays = records.filter((r) => r.overlay != null);
    expect(overlays.length).toBe(4); // first image of each set, both variants
    for (const r of overlays) expect(existsSync(join(out, r.overlay!))).toBe(true);
    const json = JSON.parse(readFileSync(first.files.json, 'utf8')) as { rows: unknown[] };
    expect(json.rows).toHaveLength(5);

    // Interrupted run: drop the last two records and tear the file, as a kill mid-write would.
    const lines = readFileSync(join(out, 'records.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
    writeFileSync(join(out, 'records.jsonl'), lines.slice(0, 8).join('\n') + '\n' + lines[8].slice(0, 20));
    const second = await runEvaluation({ sets: ['generated', 'faces'], methods: ['gradcam'], out, limit: 2, overlays: 1 });
    expect(second.computed).toBe(2);
    expect(second.skipped).toBe(8);
    expect(readRecords(out)).toHaveLength(10);
    // The two recomputed images give the same numbers as before (deterministic methods): only times may differ.
    const strip = (rows: typeof first.rows) => rows.map(({ msPerImage: _ms, ...rest }) => rest);
    expect(strip(second.rows)).toEqual(strip(first.rows));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an abort stops between images and keeps what finished', async () => {
    const out = mkdtempSync(join(tmpdir(), 'eval-abort-'));
    const ctrl = new AbortController();
    const before = tf.memory().numTensors;
    await expect(runEvaluation({
      sets: ['faces'], methods: ['gradient'], sess: false, out, split: 'large', limit: 3,
      onProgress: (p) => { if (p.done === 2) ctrl.abort(); }, signal: ctrl.signal,
    })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(readRecords(out)).toHaveLength(2);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('--no-metrics computes the same maps and nothing else, and reports the throughput', async () => {
    const full = mkdtempSync(join(tmpdir(), 'eval-full-'));
    const maps = mkdtempSync(join(tmpdir(), 'eval-maps-'));
    const before = tf.memory().numTensors;
    const a = await runEvaluation({ sets: ['generated'], methods: ['gradcam'], sess: false, out: full, limit: 2, overlays: 2 });
    const b = await runEvaluation({ sets: ['generated'], methods: ['gradcam'], sess: false, out: maps, limit: 2, overlays: 2, metrics: false });
    expect(tf.memory().numTensors).toBe(before);
    // No ground-truth-box rows, every metric null, the map's time kept.
    const rb = readRecords(maps);
    expect(rb.map((r) => r.variant)).toEqual(['gradcam', 'gradcam']);
    for (const r of rb) {
      expect([r.hit, r.iou, r.saliencyMetric, r.insertion, r.deletion, r.curves]).toEqual([null, null, null, null, null, null]);
      expect(r.ms).toBeGreaterThan(0);
    }
    // The same maps: the overlays are byte-identical to those of the run with metrics.
    const ra = readRecords(full).filter((r) => r.variant === 'gradcam');
    expect(ra).toHaveLength(2);
    for (const [i, r] of rb.entries()) {
      expect(readFileSync(join(maps, r.overlay!)).equals(readFileSync(join(full, ra[i].overlay!)))).toBe(true);
    }
    // A different job key (the settings differ), and the throughput of what was computed.
    expect(rb[0].key).not.toBe(ra[0].key);
    expect(a.throughput?.jobs).toBe(4); // 2 scenes × (gradcam, gt-box)
    expect(b.throughput).toMatchObject({ jobs: 2, workers: 0 });
    expect(b.throughput!.jobsPerSecond).toBeCloseTo(2 / b.throughput!.seconds, 10);
    const again = await runEvaluation({ sets: ['generated'], methods: ['gradcam'], sess: false, out: maps, limit: 2, overlays: 2, metrics: false });
    expect(again.throughput).toBeNull();
    expect(again.computed).toBe(0);
  });

  it('rejects unknown sets and methods before doing any work', async () => {
    const out = mkdtempSync(join(tmpdir(), 'eval-bad-'));
    await expect(runEvaluation({ sets: ['imagenet' as 'faces'], out })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(runEvaluation({ methods: ['lime'], out })).rejects.toThrow(/Unknown method 'lime'/);
  });

  it('the CLI runs it and prints the table; bad flags are refused with what to do', async () => {
    const out = mkdtempSync(join(tmpdir(), 'eval-cli-'));
    const lines: string[] = [];
    const code = await runCli(['eval', '--set', 'faces', '--methods', 'gradcam', '--no-sess', '--backend', 'wasm', '--out', out], (l) => lines.push(l));
    expect(code).toBe(0);
    const text = lines.join('\n');
    expect(text).toMatch(/\| faces \| gradcam \| 2 \|/); // the small split has 2 faces
    expect(text).not.toContain('gradcam+sess');
    expect(text).toMatch(/throughput: 2 jobs in \d+\.\d s = \d+\.\d\d jobs\/s on \d+ worker process/);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
    await expect(runCli(['eval', '--split', 'medium', '--out', out], () => {})).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(runCli(['eval', '--set', 'imagenet', '--out', out], () => {})).rejects.toThrow(/Unknown evaluation set 'imagenet'/);
  });
});
