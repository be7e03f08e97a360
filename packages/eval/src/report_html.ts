import type { EvalRecord } from './records.js';
import type { SummaryRow } from './summary.js';

/** What the report page shows besides the rows. */
export interface ReportContext {
  /** When the run finished (ISO string). */
  date: string;
  /** Backend, tfjs version, machine. */
  environment: string;
  /** One line per set describing it. */
  sets: { name: string; description: string }[];
  /** Settings worth knowing (RISE masks, SESS settings, …). */
  settings: string[];
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#ad494a', '#637939', '#8c6d31'];

/** An SVG line plot of one curve kind (insertion or deletion) for every method of a set. */
export function curvesSvg(rows: readonly SummaryRow[], kind: 'insertion' | 'deletion'): string {
  const W = 420, H = 260, L = 44, B = 34, T = 24, R = 10;
  const x = (v: number): number => L + v * (W - L - R);
  const y = (v: number): number => T + (1 - v) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${W / 2}" y="14" text-anchor="middle" font-weight="bold">${kind} (mean probability of the target)</text>`,
    `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#999"/>`,
  ];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<text x="${L - 4}" y="${y(t) + 4}" text-anchor="end">${t}</text>`, `<text x="${x(t)}" y="${H - B + 14}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 4}" text-anchor="middle">fraction of pixels ${kind === 'insertion' ? 'inserted' : 'deleted'}</text>`);
  rows.forEach((r, i) => {
    if (r.curves == null) return;
    const pts = r.curves.fractions.map((fr, j) => `${x(fr).toFixed(1)},${y(r.curves![kind][j]).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.5" points="${pts}"><title>${esc(r.variant)}</title></polyline>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function legend(rows: readonly SummaryRow[]): string {
  return rows.map((r, i) => r.curves == null ? ''
    : `<span style="color:${COLOURS[i % COLOURS.length]}">&#9644; ${esc(r.variant)}</span>`).filter(Boolean).join(' &nbsp; ');
}

const f = (v: number | null, d = 3): string => (v == null ? '–' : v.toFixed(d));
const pct = (v: number | null): string => (v == null ? '–' : `${(100 * v).toFixed(1)}%`);

/** The whole report page: the table, the curves and example overlays per set. */
export function reportHtml(rows: readonly SummaryRow[], records: readonly EvalRecord[], ctx: ReportContext): string {
  const sets = [...new Set(rows.map((r) => r.set))];
  const body: string[] = [];
  body.push('<h2>Summary</h2><table><thead><tr><th>set</th><th>method</th><th>images</th><th>pointing (all)</th><th>pointing (difficult)</th>'
    + '<th>localisation error</th><th>saliency metric ↓</th><th>insertion ↑</th><th>deletion ↓</th><th>overall ↑</th><th>ms / image</th></tr></thead><tbody>');
  for (const r of rows) {
    body.push(`<tr><td>${esc(r.set)}</td><td>${esc(r.variant)}</td><td>${r.images}</td><td>${pct(r.pointing)}</td>`
      + `<td>${r.difficultImages > 0 ? `${pct(r.pointingDifficult)} (${r.difficultImages})` : '–'}</td><td>${pct(r.localisationError)}</td>`
      + `<td>${f(r.saliencyMetric)}</td><td>${f(r.insertion)}</td><td>${f(r.deletion)}</td><td>${f(r.overall)}</td>`
      + `<td>${r.msPerImage == null ? '–' : Math.round(r.msPerImage)}</td></tr>`);
  }
  body.push('</tbody></table>');
  for (const s of sets) {
    const setRows = rows.filter((r) => r.set === s);
    const desc = ctx.sets.find((d) => d.name === s)?.description ?? '';
    body.push(`<h2>${esc(s)}</h2><p>${esc(desc)}</p>`);
    body.push(`<div class="plots">${curvesSvg(setRows, 'insertion')}${curvesSvg(setRows, 'deletion')}</div><p class="legend">${legend(setRows)}</p>`);
    const withOverlay = records.filter((r) => r.set === s && r.overlay != null);
    const items = [...new Set(withOverlay.map((r) => r.itemId))];
    const variants = [...new Set(withOverlay.map((r) => r.variant))];
    if (items.length > 0) {
      body.push(`<table class="overlays"><thead><tr><th>image</th>${variants.map((v) => `<th>${esc(v)}</th>`).join('')}</tr></thead><tbody>`);
      for (const it of items) {
        body.push(`<tr><td>${esc(it)}</td>${variants.map((v) => {
          const rec = withOverlay.find((r) => r.itemId === it && r.variant === v);
          return `<td>${rec?.overlay != null ? `<img src="${esc(rec.overlay)}" alt="${esc(`${v} on ${it}`)}">` : ''}</td>`;
        }).join('')}</tr>`);
      }
      body.push('</tbody></table>');
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>@saliency evaluation report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:nth-child(-n+2),th{text-align:left}.plots svg{margin-right:1em}.overlays img{width:128px;height:auto;image-rendering:pixelated}
.legend{font-size:90%}code{background:#f4f4f4;padding:0 3px}
</style></head><body>
<h1>Evaluation report</h1>
<p>${esc(ctx.date)} · ${esc(ctx.environment)}</p>
<ul>${ctx.settings.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
<p>Pointing game: hit when the map's maximum lies within the tolerance of a ground-truth box; mean of per-class hit rates. Localisation error: box from the mask
(threshold = the map's mean, largest connected component) has IoU &lt; 0.5 with every ground-truth box. Saliency metric (Dabkowski &amp; Gal):
log(max(a, 0.05)) − log(p) for the crop to that box; lower is better; <code>gt-box</code> is the same for the ground-truth box. Insertion/deletion:
RISE protocol (blur kernel 11, σ 5; step = the model's input height; deletion to the model's zero).</p>
${body.join('\n')}
</body></html>
`;
}
