// The evaluation's aggregation and its resumable store, on hand-made records.
import { mkdtempSync, readFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { perClassPointing, summarise, summaryMarkdown } from '../../packages/eval/src/summary.js';
import { openRecordStore, type EvalRecord } from '../../packages/eval/src/records.js';
import { parseStoreLine } from '../../packages/eval/src/jsonl_store.js';
import { curvesSvg, reportHtml } from '../../packages/eval/src/report_html.js';

function rec(p: Partial<EvalRecord> & { itemId: string }): EvalRecord {
  return {
    key: `s/${p.variant ?? 'm'}/${p.itemId}`, set: 's', variant: 'm', target: 0, difficult: false, ms: 10, hit: null, iou: null,
    saliencyMetric: null, insertion: null, deletion: null, curves: null, overlay: null, ...p,
  };
}

describe('evaluation summary', () => {
  it('pointing accuracy is the mean of per-class hit rates, not the overall hit rate', () => {
    // class 0: 3/4 hits, class 1: 0/1 → per-class mean 0.375 (overall would be 0.6)
    const rs = [true, true, true, false].map((hit, i) => ({ target: 0, hit, itemId: `a${i}` })).concat([{ target: 1, hit: false, itemId: 'b' }]);
    expect(perClassPointing(rs)).toBeCloseTo(0.375, 12);
    expect(perClassPointing([{ target: 0, hit: null }])).toBeNull();
  });

  it('averages each (set, method) group: localisation error, AUCs, overall, median time, mean curves', () => {
    const curves = (a: number, b: number) => ({ fractions: [0, 0.5, 1], insertion: [a, a, a], deletion: [b, b, b] });
    const rows = summarise([
      rec({ itemId: '1', hit: true, iou: 0.7, saliencyMetric: -1, insertion: 0.8, deletion: 0.2, ms: 10, curves: curves(0.8, 0.2), difficult: true }),
      rec({ itemId: '2', hit: false, iou: 0.3, saliencyMetric: 1, insertion: 0.6, deletion: 0.4, ms: 30, curves: curves(0.6, 0.4) }),
      rec({ itemId: '3', hit: true, iou: 0.5, saliencyMetric: 0, insertion: 0.4, deletion: 0.0, ms: 20, curves: curves(0.4, 0.0), difficult: true }),
      rec({ itemId: '1', variant: 'other', hit: false }),
    ]);
    expect(rows.map((r) => r.variant)).toEqual(['m', 'other']);
    const r = rows[0];
    expect(r.images).toBe(3);
    expect(r.pointing).toBeCloseTo(2 / 3, 12);
    expect(r.pointingDifficult).toBe(1);
    expect(r.difficultImages).toBe(2);
    expect(r.localisationError).toBeCloseTo(1 / 3, 12); // only IoU 0.3 is < 0.5 (0.5 counts as right)
    expect(r.saliencyMetric).toBeCloseTo(0, 12);
    expect(r.insertion).toBeCloseTo(0.6, 12);
    expect(r.deletion).toBeCloseTo(0.2, 12);
    expect(r.overall).toBeCloseTo(0.4, 12);
    expect(r.msPerImage).toBe(20);
    expect(r.curves?.insertion).toEqual([0.6, 0.6, 0.6].map((v) => expect.closeTo(v, 12)));
    expect(rows[1].pointing).toBe(0);
    const md = summaryMarkdown(rows);
    expect(md.split('\n')[2]).toBe('| s | m | 3 | 66.7 % | 100.0 % (2) | 33.3 % | 0.000 | 0.600 | 0.200 | 0.400 | 20 |');
    const svg = curvesSvg(rows, 'insertion');
    expect(svg.match(/<polyline/g)?.length).toBe(1); // the group without curves draws nothing
    const html = reportHtml(rows, [], { date: 'd', environment: 'e', settings: ['x'], sets: [{ name: 's', description: 'desc <b>' }] });
    expect(html).toContain('<td>66.7%</td>');
    expect(html).toContain('desc &lt;b&gt;');
  });

  it('the record store keeps finished records across reopenings and ignores a torn last line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'records-'));
    const path = join(dir, 'sub', 'records.jsonl');
    const a = await openRecordStore(path);
    await a.add(rec({ itemId: '1' }));
    await a.add(rec({ itemId: '2' }));
    appendFileSync(path, '{"key":"s/m/3","set":"s"'); // an interrupted write
    const b = await openRecordStore(path);
    expect(b.has('s/m/1')).toBe(true);
    expect(b.has('s/m/2')).toBe(true);
    expect(b.has('s/m/3')).toBe(false);
    expect(b.all().map((r) => r.itemId)).toEqual(['1', '2']);
    await b.add(rec({ itemId: '3' })); // the recomputed record must not be glued to the torn line
    const c = await openRecordStore(path);
    expect(c.all().map((r) => r.itemId)).toEqual(['1', '2', '3']);
    // The torn line was ended (not cut off: other processes may be appending), and readers skip it.
    const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(4);
    expect(lines.map((l) => parseStoreLine<EvalRecord>(l)?.itemId ?? null)).toEqual(['1', '2', null, '3']);
  });
});
