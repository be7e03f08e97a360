import type { EvalRecord } from './records.js';

/** Insertion and deletion curves averaged over a group's images. */
export interface MeanCurves {
  /** Fraction of pixels changed at each point. */
  fractions: number[];
  /** Mean probability of the target as pixels are inserted. */
  insertion: number[];
  /** Mean probability of the target as pixels are deleted. */
  deletion: number[];
}

/** One row of the report's table: a method (± SESS) on one set, averaged over its images. */
export interface SummaryRow {
  /** Evaluation set. */
  set: string;
  /** Method name (`+sess` when wrapped in SESS; `gt-box` for the ground-truth reference). */
  variant: string;
  /** Images evaluated. */
  images: number;
  /** Pointing game, mean over classes of the per-class hit rate (null: no boxes). */
  pointing: number | null;
  /** The same on the difficult subset (null: no difficult images). */
  pointingDifficult: number | null;
  /** Difficult images in the set. */
  difficultImages: number;
  /** Localisation error: fraction of images whose box from the mask has IoU < 0.5 with every ground-truth box. */
  localisationError: number | null;
  /** Mean saliency metric (lower is better). */
  saliencyMetric: number | null;
  /** Mean insertion AUC (higher is better). */
  insertion: number | null;
  /** Mean deletion AUC (lower is better). */
  deletion: number | null;
  /** Mean of insertion − deletion. */
  overall: number | null;
  /** Median milliseconds per image. */
  msPerImage: number | null;
  /** Mean insertion and deletion curves (when every image has the same grid). */
  curves: MeanCurves | null;
}

const mean = (v: number[]): number | null => (v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length);

function median(v: number[]): number | null {
  if (v.length === 0) return null;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Zhang et al.'s pointing accuracy: hits / total per class, averaged over the classes present. */
export function perClassPointing(records: readonly { target: number; hit: boolean | null }[]): number | null {
  const byClass = new Map<number, { hits: number; total: number }>();
  for (const r of records) {
    if (r.hit == null) continue;
    const c = byClass.get(r.target) ?? { hits: 0, total: 0 };
    c.total++;
    if (r.hit) c.hits++;
    byClass.set(r.target, c);
  }
  return mean([...byClass.values()].map((c) => c.hits / c.total));
}

function meanCurves(rs: readonly EvalRecord[]): SummaryRow['curves'] {
  const cs = rs.map((r) => r.curves).filter((c): c is NonNullable<EvalRecord['curves']> => c != null);
  if (cs.length === 0 || cs.some((c) => c.fractions.length !== cs[0].fractions.length)) return null;
  const avg = (pick: (c: (typeof cs)[number]) => number[]): number[] =>
    cs[0].fractions.map((_, i) => cs.reduce((a, c) => a + pick(c)[i], 0) / cs.length);
  return { fractions: cs[0].fractions, insertion: avg((c) => c.insertion), deletion: avg((c) => c.deletion) };
}

/** Groups records by (set, variant), in first-seen order, and averages each group. */
export function summarise(records: readonly EvalRecord[]): SummaryRow[] {
  const groups = new Map<string, EvalRecord[]>();
  for (const r of records) {
    const k = `${r.set}\u0000${r.variant}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const nums = (pick: (r: EvalRecord) => number | null): number[] => rs.map(pick).filter((v): v is number => v != null);
    const ious = nums((r) => r.iou);
    const difficult = rs.filter((r) => r.difficult);
    const ins = nums((r) => r.insertion);
    const del = nums((r) => r.deletion);
    return {
      set: rs[0].set,
      variant: rs[0].variant,
      images: rs.length,
      pointing: perClassPointing(rs),
      pointingDifficult: perClassPointing(difficult),
      difficultImages: difficult.length,
      localisationError: ious.length === 0 ? null : ious.filter((v) => v < 0.5).length / ious.length,
      saliencyMetric: mean(nums((r) => r.saliencyMetric)),
      insertion: mean(ins),
      deletion: mean(del),
      overall: ins.length === 0 ? null : mean(rs.filter((r) => r.insertion != null && r.deletion != null).map((r) => (r.insertion ?? 0) - (r.deletion ?? 0))),
      msPerImage: median(nums((r) => r.ms)),
      curves: meanCurves(rs),
    };
  });
}

const f = (v: number | null, digits = 3): string => (v == null ? '–' : v.toFixed(digits));
const pct = (v: number | null): string => (v == null ? '–' : `${(100 * v).toFixed(1)} %`);

/** The table as Markdown (what the closing note and the terminal show). */
export function summaryMarkdown(rows: readonly SummaryRow[]): string {
  const head = '| set | method | images | pointing (all) | pointing (difficult) | loc. error | saliency metric | insertion ↑ | deletion ↓ | overall ↑ | ms / image |';
  const lines = [head, '|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    lines.push(`| ${r.set} | ${r.variant} | ${r.images} | ${pct(r.pointing)} | ${r.difficultImages > 0 ? pct(r.pointingDifficult) : '–'} (${r.difficultImages}) | ${pct(r.localisationError)} | ${f(r.saliencyMetric)} | ${f(r.insertion)} | ${f(r.deletion)} | ${f(r.overall)} | ${r.msPerImage == null ? '–' : Math.round(r.msPerImage)} |`);
  }
  return lines.join('\n');
}
