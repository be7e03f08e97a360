// The pure parts of `npm run bench` (bench/lib/stats.mjs, bench/lib/plan.mjs) against hand-computed
// values: summaries, the passes each method cannot avoid, the floor, run counts, size choices,
// kernel aggregation and the markdown; and that --quick's rows are a subset of the full run's.
import { describe, expect, it } from 'vitest';
import {
  aggregateKernels, describePasses, floorMs, loneFloorMs, floorRatio, fmtMs, fmtRatio, markdownTable, median, pairedFloorMs, pairedFloorPlan,
  passesPerImage, pickSize, renderMarkdown, runsFor, sessPasses, summarize,
} from '../../bench/lib/stats.mjs';
import { buildPlan, FULL, METHODS, QUICK, RISE_N, rowKey, sizeRow, SMOOTH_SAMPLES } from '../../bench/lib/plan.mjs';

describe('timing summaries', () => {
  it('median: the middle value, or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([10, 10, 1, 10, 1000])).toBe(10);
    expect(() => median([])).toThrow(/empty/);
  });

  it('summarize: runs, median, min, max', () => {
    expect(summarize([5, 1, 3])).toEqual({ runs: 3, median: 3, min: 1, max: 5 });
    expect(summarize([20, 10, 40, 30])).toEqual({ runs: 4, median: 25, min: 10, max: 40 });
    expect(() => summarize([])).toThrow(/no runs/);
  });
});

describe('passes a method cannot avoid (design.md §8, §4)', () => {
  it('per method, per image', () => {
    expect(passesPerImage('forward')).toEqual({ F: 1, G: 0, L: 0 });
    expect(passesPerImage('gradient')).toEqual({ F: 0, G: 1, L: 0 });
    expect(passesPerImage('guided')).toEqual({ F: 0, G: 1, L: 0 });
    expect(passesPerImage('gradcam')).toEqual({ F: 0, G: 0, L: 1 });
    expect(passesPerImage('smoothgrad', { samples: 25 })).toEqual({ F: 0, G: 25, L: 0 });
    expect(passesPerImage('groupcam', { groups: 32 })).toEqual({ F: 33, G: 0, L: 1 }); // G masked + 1 blurred
    expect(passesPerImage('scorecam', { channels: 1280 })).toEqual({ F: 1281, G: 0, L: 0 }); // activations + K masked
    expect(passesPerImage('rise', { n: 4000 })).toEqual({ F: 4000, G: 0, L: 0 });
    // Ablation-CAM: the features once, then the head alone on them and on K ablated copies.
    expect(passesPerImage('ablationcam', { channels: 1280 })).toEqual({ F: 1, G: 0, L: 0, H: 1281 });
    expect(passesPerImage('headpass')).toEqual({ F: 0, G: 0, L: 0, H: 1 });
    // With a per-channel reduction at the head's start, the K + 1 passes run on reduced rows: R, not H.
    expect(passesPerImage('ablationcam', { channels: 1280, reduced: true })).toEqual({ F: 1, G: 0, L: 0, R: 1281 });
    expect(passesPerImage('restpass')).toEqual({ F: 0, G: 0, L: 0, R: 1 });
  });

  it('rejects a missing size and an unknown method', () => {
    expect(() => passesPerImage('rise')).toThrow(/n must be a positive integer/);
    expect(() => passesPerImage('smoothgrad', { samples: 0 })).toThrow(/samples/);
    expect(() => passesPerImage('lime')).toThrow(/unknown method/);
  });

  it('SESS: #patches forwards for the pre-filter + kept × the base method', () => {
    // 12 scales on a 112² input: 122 patches; r = 0.9 drops floor(109.8) = 109, keeps 13.
    expect(sessPasses(passesPerImage('gradcam'), { patches: 122, kept: 13 })).toEqual({ F: 122, G: 0, L: 13 });
    expect(sessPasses(passesPerImage('rise', { n: 32 }), { patches: 122, kept: 13 })).toEqual({ F: 122 + 13 * 32, G: 0, L: 0 });
    expect(sessPasses(passesPerImage('groupcam', { groups: 32 }), { patches: 122, kept: 13 })).toEqual({ F: 122 + 13 * 33, G: 0, L: 13 });
    expect(sessPasses(passesPerImage('ablationcam', { channels: 256 }), { patches: 122, kept: 13 })).toEqual({ F: 122 + 13, G: 0, L: 0, H: 13 * 257 });
    expect(sessPasses(passesPerImage('ablationcam', { channels: 256, reduced: true }), { patches: 122, kept: 13 })).toEqual({ F: 122 + 13, G: 0, L: 0, R: 13 * 257 });
    expect(() => sessPasses(passesPerImage('gradcam'), { patches: 5, kept: 6 })).toThrow(/kept/);
  });

  it('floor = images × Σ passes × unit ms; ratio = time / floor', () => {
    const units = { F: 10, G: 100, L: 14 };
    // 2 × (122·10 + 13·14) = 2 × (1220 + 182) = 2804
    expect(floorMs({ F: 122, G: 0, L: 13 }, units, 2)).toBe(2804);
    expect(floorMs({ F: 0, G: 25, L: 0 }, units)).toBe(2500);
    expect(floorMs({ F: 3, G: 0, L: 0 }, { F: 2.5 })).toBe(7.5); // unused kinds need no unit
    expect(() => floorMs({ F: 0, G: 1, L: 0 }, { F: 2 })).toThrow(/no unit cost for pass kind G/);
    expect(floorMs({ F: 1, G: 0, L: 0, H: 257 }, { F: 10, H: 0.5 }, 2)).toBe(2 * (10 + 128.5));
    expect(floorMs({ F: 1, G: 0, L: 0, R: 257 }, { F: 10, R: 0.25 })).toBe(10 + 64.25);
    expect(() => floorMs({ F: 0, G: 0, L: 0, R: 1 }, { F: 1, H: 1 })).toThrow(/no unit cost for pass kind R/);
    expect(floorRatio(3000, 2500)).toBeCloseTo(1.2, 12);
    expect(floorRatio(5, 0)).toBeNull();
  });

  it('lone floor: a kind needed once per call costs its batch-1 time, every other kind the full-batch unit', () => {
    const units = { F: 10, G: 100, L: 14, H: 0.5 };
    const units1 = { F: 12, G: 136, L: 30 };
    expect(loneFloorMs({ F: 0, G: 1, L: 0 }, units, units1)).toBe(136); // one image's gradient: batch 1
    expect(loneFloorMs({ F: 0, G: 1, L: 0 }, units, units1, 8)).toBe(800); // 8 images: batched
    expect(loneFloorMs({ F: 0, G: 1, L: 1 }, units, units1)).toBe(136 + 30); // Guided Grad-CAM: both lone
    expect(loneFloorMs({ F: 33, G: 0, L: 1 }, units, units1)).toBe(330 + 30); // Group-CAM: F batched, L lone
    expect(loneFloorMs({ F: 0, G: 25, L: 0 }, units, units1)).toBe(floorMs({ F: 0, G: 25, L: 0 }, units));
    expect(loneFloorMs({ F: 1, G: 0, L: 0, H: 257 }, units, units1)).toBe(12 + 128.5);
    expect(loneFloorMs({ F: 0, G: 1, L: 0 }, units, undefined)).toBe(100); // no batch-1 units: the full-batch one
    expect(() => loneFloorMs({ F: 0, G: 0, L: 0, H: 2 }, { F: 1 }, units1)).toThrow(/no unit cost for pass kind H/);
  });

  it('paired floor: the unit calls a row needs (lone kinds at batch 1), and Σ count × ms / batch', () => {
    const full = { F: 8, G: 8, L: 8, H: 32, R: 32 };
    // Grad-CAM on one image: one layer gradient at batch 1.
    expect(pairedFloorPlan({ F: 0, G: 0, L: 1 }, 1, full)).toEqual([{ kind: 'L', batch: 1, count: 1 }]);
    // Grad-CAM on 8 images: 8 layer gradients at the full batch.
    expect(pairedFloorPlan({ F: 0, G: 0, L: 1 }, 8, full)).toEqual([{ kind: 'L', batch: 8, count: 8 }]);
    // SESS(Grad-CAM): 122 + 13 forwards batched, 13 layer gradients batched.
    const sessPlan = pairedFloorPlan(sessPasses({ F: 0, G: 0, L: 1 }, { patches: 122, kept: 13 }), 1, full);
    expect(sessPlan).toEqual([{ kind: 'F', batch: 8, count: 122 }, { kind: 'L', batch: 8, count: 13 }]);
    // 122 × 80/8 + 13 × 96/8 = 1220 + 156
    expect(pairedFloorMs(sessPlan, [80, 96])).toBe(1376);
    // Ablation-CAM: the lone forward at batch 1, the 1281 rest passes at 32 (R has no batch-1 kind).
    const abl = pairedFloorPlan({ F: 1, G: 0, L: 0, R: 1281 }, 1, full);
    expect(abl).toEqual([{ kind: 'F', batch: 1, count: 1 }, { kind: 'R', batch: 32, count: 1281 }]);
    expect(pairedFloorMs(abl, [12, 0.32 * 32])).toBeCloseTo(12 + 1281 * 0.32, 9);
    // The same floor as loneFloorMs when each call takes its unit × batch.
    const units: Record<string, number> = { F: 10, G: 100, L: 14, R: 0.25 }, units1: Record<string, number> = { F: 12, G: 136, L: 30 };
    for (const [passes, images] of [[{ F: 33, G: 0, L: 1 }, 1], [{ F: 0, G: 1, L: 1 }, 1], [{ F: 0, G: 25, L: 0 }, 1], [{ F: 1, G: 0, L: 0, R: 9 }, 8]] as const) {
      const plan = pairedFloorPlan(passes, images, full);
      const ms = plan.map((c) => (c.batch === 1 && c.count === 1 ? units1[c.kind] : units[c.kind] * c.batch));
      expect(pairedFloorMs(plan, ms)).toBeCloseTo(loneFloorMs(passes, units, units1, images), 9);
    }
    expect(() => pairedFloorPlan({ F: 2, G: 0, L: 0 }, 1, { G: 8 })).toThrow(/no batch for pass kind F/);
    expect(() => pairedFloorMs(sessPlan, [80])).toThrow(/2 calls, 1 times/);
  });

  it('describes passes', () => {
    expect(describePasses({ F: 122, G: 0, L: 13 })).toBe('122 F + 13 L');
    expect(describePasses({ F: 0, G: 25, L: 0 }, 8)).toBe('8 × (25 G)');
    expect(describePasses({ F: 0, G: 0, L: 0 })).toBe('0');
    expect(describePasses({ F: 1, G: 0, L: 0, H: 1281 })).toBe('1 F + 1281 H');
    expect(describePasses({ F: 1, G: 0, L: 0, R: 1281 })).toBe('1 F + 1281 R');
  });
});

describe('run counts and sizes', () => {
  const cfg = { runs: 5, longRowMs: 20000, longRowBudgetMs: 40000 };
  it('all runs up to the long-row limit, then as many as fit the budget (at least one)', () => {
    expect(runsFor(5000, cfg)).toBe(5);
    expect(runsFor(20000, cfg)).toBe(5);
    expect(runsFor(20001, cfg)).toBe(1); // floor(40000 / 20001) = 1
    expect(runsFor(100000, cfg)).toBe(1);
    expect(runsFor(10000, { runs: 5, longRowMs: 5000, longRowBudgetMs: 40000 })).toBe(4);
    expect(runsFor(1000, { runs: 5, longRowMs: 500, longRowBudgetMs: 40000 })).toBe(5); // capped at runs
    // Short rows: more runs, so that one slow moment does not set the median.
    const short = { ...cfg, shortRowMs: 200, shortRuns: 15 };
    expect(runsFor(15, short)).toBe(15);
    expect(runsFor(200, short)).toBe(15);
    expect(runsFor(201, short)).toBe(5);
    expect(runsFor(30000, short)).toBe(1);
    expect(runsFor(15, { ...cfg, shortRowMs: 200, shortRuns: 3 })).toBe(5); // never fewer than runs
  });

  it('the largest size that fits the target, else the smallest', () => {
    expect(pickSize(RISE_N, 10.6, 2500)).toBe(128); // 128·10.6 = 1356.8 ≤ 2500 < 256·10.6 = 2713.6
    expect(pickSize(RISE_N, 0.1, 2500)).toBe(4000);
    expect(pickSize([32, 4000, 128], 1000, 10)).toBe(32);
    // SESS(RISE) on 122 patches, 13 kept, F = 10.6: fixed 1293.2, per mask 137.8 → 32 fits 6000 (5702.8), 64 does not.
    expect(pickSize(RISE_N, 13 * 10.6, 6000, 122 * 10.6)).toBe(32);
    expect(pickSize(SMOOTH_SAMPLES, 100, 2500)).toBe(25);
    expect(pickSize(SMOOTH_SAMPLES, 100, 2499)).toBe(16);
  });
});

describe('row plans', () => {
  const model = { channels: 256, patches: 122, kept: 13 };
  const units = { F: 10, G: 100, L: 14 };

  it('--quick is a subset of the full run, with fewer images and SESS rows', () => {
    const full = buildPlan(FULL, ['face', 'mobilenet', 'digits'], METHODS).map(rowKey);
    const quick = buildPlan(QUICK, ['face', 'digits'], METHODS).map(rowKey);
    expect(quick.length).toBeGreaterThan(0);
    expect(quick.length).toBeLessThan(full.length);
    for (const k of quick) expect(full).toContain(k);
    expect(new Set(full).size).toBe(full.length);
    // Every method at batch 1 and 8, with and without SESS, in the full run.
    for (const m of METHODS) for (const b of [1, 8]) for (const s of ['sess', '-']) expect(full).toContain(`digits|${m}|${s}|${b}|default`);
    for (const m of METHODS) for (const s of ['sess', '-']) expect(full).toContain(`face|${m}|${s}|1|default`);
    expect(full).toContain('face|forward|-|32|default');
    expect(full).toContain('mobilenet|headpass|-|32|default'); // the H unit, for Ablation-CAM
    expect(full).toContain('mobilenet|restpass|-|32|default'); // the R unit, for Ablation-CAM on a reduced head
    expect(buildPlan(FULL, ['face'], ['gradcam']).map(rowKey)).not.toContain('face|headpass|-|32|default');
    expect(full).toContain('mobilenet|rise|-|1|8');
    // Methods that loop over a call's images: batch 8 only on the digits model.
    expect(full).toContain('mobilenet|gradient|-|8|default');
    expect(full).toContain('face|gradcam|-|8|default');
    expect(full).toContain('mobilenet|rise|-|1|default');
    expect(full).not.toContain('mobilenet|rise|-|8|default');
    expect(full).not.toContain('face|scorecam|-|8|default');
    expect(full).not.toContain('face|gradcam|sess|8|default');
    for (const m of METHODS) expect(full).toContain(`digits|${m}|sess|8|default`);
  });

  it('sizes RISE and SmoothGrad to the time target and scales the floor with them', () => {
    const r = sizeRow({ model: 'face', method: 'rise', sess: false, images: 1, passBatch: null }, model, units, FULL);
    expect(r.params.n).toBe(128); // 128·10 = 1280 ≤ 2500 < 2560
    expect(r.floorMs).toBe(1280);
    expect(r.settings).toBe('N=128');
    const s = sizeRow({ model: 'face', method: 'rise', sess: true, images: 1, passBatch: null }, model, units, FULL);
    expect(s.params.n).toBe(32); // 1220 + 13·32·10 = 5380 ≤ 6000 < 1220 + 13·64·10
    expect(s.passes).toEqual({ F: 122 + 13 * 32, G: 0, L: 0 });
    expect(s.floorMs).toBe(5380);
    const g = sizeRow({ model: 'face', method: 'smoothgrad', sess: false, images: 8, passBatch: null }, model, units, FULL);
    expect(g.params.samples).toBe(SMOOTH_SAMPLES[SMOOTH_SAMPLES.length - 1]); // 8·4·100 = 3200 > 2500: the smallest
    expect(g.floorMs).toBe(3200);
  });

  it('fewer runs for long rows; skips rows past the cap with the reason', () => {
    const sc = sizeRow({ model: 'face', method: 'scorecam', sess: false, images: 8, passBatch: null }, model, units, FULL);
    expect(sc.floorMs).toBe(8 * 257 * 10);
    expect(sc.estimateMs).toBe(25700);
    expect(sc.runs).toBe(1); // floor(40000 / 25700)
    expect(sc.skip).toBeNull();
    const big = sizeRow({ model: 'face', method: 'scorecam', sess: true, images: 8, passBatch: null }, model, units, FULL);
    expect(big.floorMs).toBe(8 * (122 + 13 * 257) * 10); // 277 040 ms
    expect(big.skip).toBe('estimated 346 s per run > cap 120 s');
  });
});

describe('kernel profile aggregation', () => {
  it('totals per kernel name, sorted by time, with shares; op scopes (…__op) not counted twice', () => {
    const agg = aggregateKernels([
      { name: 'Conv2D', kernelTimeMs: 3 }, { name: 'Add', kernelTimeMs: 1 }, { name: 'fusedConv2d__op', kernelTimeMs: 4 }, { name: 'Conv2D', kernelTimeMs: 4 },
      { name: 'Relu', kernelTimeMs: { kernelMs: 0 } },
    ], 2);
    expect(agg.kernelMs).toBe(8);
    expect(agg.kernelCount).toBe(4);
    expect(agg.top).toEqual([
      { name: 'Conv2D', calls: 2, ms: 7, pct: 87.5 },
      { name: 'Add', calls: 1, ms: 1, pct: 12.5 },
    ]);
  });
});

describe('markdown', () => {
  it('formats times and ratios', () => {
    expect(fmtMs(1234)).toBe('1.23 s');
    expect(fmtMs(277040)).toBe('277 s');
    expect(fmtMs(123.4)).toBe('123 ms');
    expect(fmtMs(12.345)).toBe('12.3 ms');
    expect(fmtMs(null)).toBe('–');
    expect(fmtRatio(1.2345)).toBe('1.23');
    expect(fmtRatio(null)).toBe('–');
    expect(markdownTable(['a', 'b'], [[1, 'x|y']])).toBe('| a | b |\n| --- | --- |\n| 1 | x\\|y |');
  });

  it('renders rows, targets, skipped rows, the speed-up and the memory check', () => {
    const md = renderMarkdown({
      date: '2026-01-02', quick: false, totalSeconds: 61.2,
      machine: { cpuModel: 'CPU', cores: 2, memGiB: 8, loadStart: '1', loadEnd: '2', node: 'v20', tfjs: '4.22.0', backend: 'wasm', simd: true },
      models: [{ name: 'face', inputSize: [112, 112], camLayer: 'dense3', channels: 256, units: { F: 10, G: 100, L: 14, H: 0.5 },
        unitsStart: { F: 10, G: 120, L: 14 }, unitsEnd: { F: 11, G: 100, L: 15 }, units1: { F: 12, G: 136, L: 20 } }],
      rows: [
        { model: 'face', method: 'gradcam', sess: false, images: 1, passBatch: 8, settings: '', time: { runs: 3, median: 22.1, min: 18.7, max: 26.8 },
          passes: '1 L', counted: '1 L', floorMs: 14.1, ratio: 22.1 / 14.1, ratioMin: 18.7 / 14.1, load: 1.1, ratioAdjusted: 22.1 / 14.1 / 1.1,
          loneFloorMs: 20, ratioLone: 22.1 / 20, ratioPaired: 1.31, target: null, notes: [] },
        { model: 'face', method: 'rise', sess: false, images: 8, passBatch: 32, settings: 'N=128', time: { runs: 5, median: 12640, min: 12000, max: 13000 },
          passes: '1024 F', counted: '1024 F', floorMs: 10000, ratio: 1.26, ratioMin: 1.2, target: 1.2, notes: ['N=128 instead of 4000: floor scaled to N'] },
        { model: 'face', method: 'scorecam', sess: false, images: 1, passBatch: 32, settings: 'K=256', time: { runs: 5, median: 2800, min: 2700, max: 2900 },
          passes: '257 F', counted: '257 F', floorMs: 2570, ratio: 2800 / 2570, ratioMin: 2700 / 2570, ratioPaired: 1.04, target: 1.2, notes: [] },
        { model: 'face', method: 'scorecam', sess: true, images: 8, passBatch: 16, settings: 'K=256', passes: '8 × (3463 F)', floorMs: 277040,
          skipped: 'estimated 346 s per run > cap 120 s' },
      ],
      sessSpeedup: [{ model: 'face', base: 'gradcam', scales: 12, patches: 122, kept: 122, batched: { median: 2000, extraction: 1000 },
        single: { median: 5000, extraction: 3000 }, speedup: { total: 2.5, extraction: 3 } }],
      memory: { model: 'face', runs: [{ n: 500, peakBytes: 2 ** 21, peakAddedBytes: 2 ** 20, ms: 100 }, { n: 8000, peakBytes: 2 ** 21, peakAddedBytes: 2 ** 20, ms: 1600 }], ratio: 1, target: 1.5 },
      profiles: [], notes: ['a note'],
    });
    expect(md).toContain('# Bench 2026-01-02 — wasm\n');
    expect(md).toContain('Units (ms per image): F 10.0 ms, G 100 ms, L 14.0 ms, H 0.500 ms (at the start F 10.0 ms, G 120 ms, L 14.0 ms; after the rows F 11.0 ms, G 100 ms, L 15.0 ms); at batch 1: F 12.0 ms, G 136 ms, L 20.0 ms.');
    expect(md).toContain('| gradcam | 1 | 8 |  | 3 | 22.1 ms | 18.7 ms–26.8 ms | 22.1 ms | 1 L | 1 L | 14.1 ms | 1.57 | 1.33 | ×1.10 | 1.42 | 1.10 | 1.31 ✗ (> 1.3) |  |');
    expect(md).toContain('| rise | 8 | 32 | N=128 | 5 | 12.6 s | 12.0 s–13.0 s | 1.58 s | 1024 F | 1024 F | 10.0 s | 1.26 ✗ (target ≤ 1.2) | 1.20 | – | – | – | – | N=128 instead of 4000: floor scaled to N |');
    expect(md).toContain('| scorecam | 1 | 32 | K=256 | 5 | 2.80 s | 2.70 s–2.90 s | 2.80 s | 257 F | 257 F | 2.57 s | 1.09 ✓ | 1.05 | – | – | – | 1.04 |  |');
    expect(md).toContain('| sess(scorecam) | 8 | 16 | K=256 | 0 | – | – | – | 8 × (3463 F) |  | 277 s | – | – | – | – | – | – | skipped: estimated 346 s per run > cap 120 s |');
    expect(md).toContain('Paired ratios: 2 rows, highest 1.31 (gradcam, batch 1); 1 above 1.3 ✗: gradcam batch 1 (1.31).');
    expect(md).toContain('| face | gradcam | 12 | 122 (122) | 2.00 s | 5.00 s | ×2.50 | 1.00 s | 3.00 s | ×3.00 |');
    expect(md).toContain('| 8000 | 1.0 MiB | 2.0 MiB | 1.60 s |');
    expect(md).toContain('Ratio N=8000 / N=500: 1.00 (target ≤ 1.5) ✓');
    expect(md).toContain('- a note');
  });
});
