// The pure parts of the bench runner: summaries of timings, the model passes each method cannot
// avoid (design.md §8, §4), the floor built from them, run-count and size choices, and the
// markdown rendering of a results object. No tfjs, no I/O: tested in tests/bench/stats.test.ts.

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(xs) {
  if (xs.length === 0) throw new Error('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** `{ runs, median, min, max }` of a non-empty list of times. */
export function summarize(ms) {
  if (ms.length === 0) throw new Error('summarize: no runs');
  return { runs: ms.length, median: median(ms), min: Math.min(...ms), max: Math.max(...ms) };
}

/**
 * Pass kinds, each timed per image at full batch throughput in the same run:
 * F = forward pass (batch 32), G = forward + backward to the input (best of batch 1 and 8),
 * L = forward + backward to the CAM layer (best of batch 1 and 8), H = the classifier's head
 * alone on given CAM-layer features (batch 32; Ablation-CAM's ablated passes), R = the rest of the
 * head after its per-channel reduction, on reduced rows `[32, k]` (Ablation-CAM's ablated passes
 * where the classifier offers `LayerAccess.reduced`). H and R are optional in a passes object
 * (absent = 0), so the methods without head passes keep `{ F, G, L }`.
 */
export const PASS_KINDS = ['F', 'G', 'L', 'H', 'R'];

const zero = () => ({ F: 0, G: 0, L: 0 });

/**
 * Model passes per image that a method cannot avoid.
 * `p`: `samples` (SmoothGrad), `n` (RISE masks), `groups` (Group-CAM G), `channels` (Score-CAM K).
 * `reduced` (Ablation-CAM: the layer's head has a per-channel reduction, so its ablated passes are R, not H).
 * Methods: forward, inputgrad, layergrad, restpass, headpass, gradient, guided, smoothgrad, gradcam, groupcam, scorecam, rise, gradcam++,
 * xgradcam, layercam, hirescam, eigencam, ablationcam (`channels`), guidedgradcam, inputxgradient,
 * integratedgradients (`steps`), occlusion (`patches`).
 */
export function passesPerImage(method, p = {}) {
  const need = (k) => {
    const v = p[k];
    if (!Number.isInteger(v) || v < 1) throw new Error(`passesPerImage(${method}): ${k} must be a positive integer, got ${v}`);
    return v;
  };
  const out = zero();
  switch (method) {
    case 'forward': out.F = 1; break;
    case 'headpass': out.H = 1; break;
    case 'restpass': out.R = 1; break;
    case 'inputgrad': case 'gradient': case 'guided': out.G = 1; break;
    case 'layergrad': case 'gradcam': out.L = 1; break;
    case 'smoothgrad': out.G = need('samples'); break;
    case 'groupcam': out.L = 1; out.F = need('groups') + 1; break; // G masked images + the blurred baseline
    case 'scorecam': out.F = need('channels') + 1; break; // the activations + K masked images
    case 'rise': out.F = need('n'); break;
    case 'gradcam++': case 'xgradcam': case 'layercam': case 'hirescam': out.L = 1; break;
    case 'eigencam': out.F = 1; break; // one forward (to the layer only: the ratio may fall below 1)
    case 'ablationcam': // the features, then the head (or its rest after the reduction) on them and on K ablated copies
      out.F = 1;
      out[p.reduced ? 'R' : 'H'] = need('channels') + 1;
      break;
    case 'guidedgradcam': out.L = 1; out.G = 1; break;
    case 'inputxgradient': out.G = 1; break;
    case 'integratedgradients': out.G = need('steps'); out.F = 2; break; // + S(x) and S(x′) for the completeness report
    case 'occlusion': out.F = need('patches') + 1; break;
    default: throw new Error(`passesPerImage: unknown method '${method}'`);
  }
  return out;
}

/** SESS around a base method: `patches` forwards for the pre-filter + `kept` × the base method's passes. */
export function sessPasses(base, { patches, kept }) {
  if (!(Number.isInteger(patches) && Number.isInteger(kept) && kept >= 0 && kept <= patches)) {
    throw new Error(`sessPasses: need integers 0 ≤ kept ≤ patches, got ${kept} / ${patches}`);
  }
  return { F: patches + kept * base.F, G: kept * base.G, L: kept * base.L, ...(base.H ? { H: kept * base.H } : {}), ...(base.R ? { R: kept * base.R } : {}) };
}

/** Floor in ms: `images` × Σ passes × unit ms per image. */
export function floorMs(passes, units, images = 1) {
  let t = 0;
  for (const k of PASS_KINDS) {
    if (!passes[k]) continue;
    const u = units[k];
    if (!(u > 0)) throw new Error(`floorMs: no unit cost for pass kind ${k}`);
    t += passes[k] * u;
  }
  return images * t;
}

/**
 * The floor of a call that cannot batch a pass it makes only once: a pass kind the call needs exactly
 * once (`images` × passes = 1, e.g. one image's input gradient) costs its batch-1 time `units1[k]`
 * (no call can run one pass at batch-8 throughput); every other kind costs `units[k]` as in
 * {@link floorMs}. Equals {@link floorMs} for every row with more than one pass of each kind.
 */
export function loneFloorMs(passes, units, units1, images = 1) {
  let t = 0;
  for (const k of PASS_KINDS) {
    if (!passes[k]) continue;
    const count = passes[k] * images;
    const u = count === 1 && units1?.[k] > 0 ? units1[k] : units[k];
    if (!(u > 0)) throw new Error(`loneFloorMs: no unit cost for pass kind ${k}`);
    t += count * u;
  }
  return t;
}

/** The floor-ratio limit the paired column is checked against (issue 18: every ratio ≤ 1.3). */
export const PAIRED_LIMIT = 1.3;

/** Pass kinds whose batch-1 time is measured (the lone kinds of {@link loneFloorMs}). */
const LONE_KINDS = ['F', 'G', 'L'];

/**
 * The unit calls that time a row's floor right after each of its runs (the paired floor): per pass
 * kind the row needs, `{ kind, batch, count }` — the kind's call at batch 1 when the row needs it
 * exactly once (as in {@link loneFloorMs}), else at `fullBatch[kind]` (the batch whose per-image
 * time was the unit at the start of the run). `passes` per image, `images` per call.
 */
export function pairedFloorPlan(passes, images, fullBatch) {
  const plan = [];
  for (const k of PASS_KINDS) {
    if (!passes[k]) continue;
    const count = passes[k] * images;
    const batch = count === 1 && LONE_KINDS.includes(k) ? 1 : fullBatch[k];
    if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`pairedFloorPlan: no batch for pass kind ${k}`);
    plan.push({ kind: k, batch, count });
  }
  return plan;
}

/** The floor from one timing of each call of a {@link pairedFloorPlan}: Σ count × (ms / batch). */
export function pairedFloorMs(plan, callMs) {
  if (callMs.length !== plan.length) throw new Error(`pairedFloorMs: ${plan.length} calls, ${callMs.length} times`);
  return plan.reduce((t, p, i) => t + p.count * (callMs[i] / p.batch), 0);
}

/** Method time / floor. */
export function floorRatio(ms, floor) {
  return floor > 0 ? ms / floor : null;
}

/** `"122 F + 13 L"` (× images when more than one). */
export function describePasses(passes, images = 1) {
  const parts = PASS_KINDS.filter((k) => passes[k] > 0).map((k) => `${passes[k]} ${k}`);
  const s = parts.length === 0 ? '0' : parts.join(' + ');
  return images > 1 ? `${images} × (${s})` : s;
}

/**
 * Timed runs for a row whose single run takes about `estimateMs`: `shortRuns` (at least `runs`)
 * when it is at most `shortRowMs` (a median of 5 runs of ~15 ms is at the mercy of one slow
 * moment), `runs` when it is at most `longRowMs`, otherwise as many as fit in `longRowBudgetMs`
 * (at least 1, at most `runs`).
 */
export function runsFor(estimateMs, { runs, longRowMs, longRowBudgetMs, shortRowMs = 0, shortRuns = runs }) {
  if (estimateMs <= shortRowMs) return Math.max(runs, shortRuns);
  if (estimateMs <= longRowMs) return runs;
  return Math.max(1, Math.min(runs, Math.floor(longRowBudgetMs / estimateMs)));
}

/**
 * The largest candidate size whose cost `size × unitMs + fixedMs` fits in `targetMs`;
 * the smallest candidate when none fits. Candidates in any order.
 */
export function pickSize(candidates, unitMs, targetMs, fixedMs = 0) {
  const sorted = [...candidates].sort((a, b) => b - a);
  for (const c of sorted) if (c * unitMs + fixedMs <= targetMs) return c;
  return sorted[sorted.length - 1];
}

/** Milliseconds, 3 significant digits (`"1.23 s"` from 1 s up). */
export function fmtMs(ms) {
  if (ms == null || !Number.isFinite(ms)) return '–';
  if (ms >= 1000) return `${(ms / 1000).toPrecision(3)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  return `${ms.toPrecision(3)} ms`;
}

/** A ratio with two decimals, `–` when missing. */
export function fmtRatio(r) {
  return r == null || !Number.isFinite(r) ? '–' : r.toFixed(2);
}

/** Escapes the pipe so a cell stays one cell. */
const cell = (s) => String(s).replace(/\|/g, '\\|');

/** One markdown table from a header row and data rows. */
export function markdownTable(header, rows) {
  const line = (r) => `| ${r.map(cell).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Row label: `sess(gradcam)` for SESS rows. */
export function rowLabel(row) {
  return row.sess ? `sess(${row.method})` : row.method;
}

/** Markdown of a results object (as bench/run.mjs writes it). */
export function renderMarkdown(result) {
  const m = result.machine;
  const out = [];
  out.push(`# Bench ${result.date} — ${m.backend}${result.quick ? ' (quick)' : ''}`);
  out.push('');
  out.push(`${m.cpuModel}, ${m.cores} cores, ${m.memGiB} GiB; load average ${m.loadStart} at start, ${m.loadEnd ?? '–'} at the end; ` +
    `node ${m.node}, tfjs ${m.tfjs}, backend ${m.backend}${m.simd == null ? '' : `, SIMD ${m.simd ? 'on' : 'off'}`}` +
    `${m.adapter == null ? '' : `, WebGPU adapter ${m.adapter.name} (${m.adapter.description}${m.adapter.isCpu ? ', a CPU device' : ''})`}. ` +
    `Total ${Math.round(result.totalSeconds)} s.`);
  out.push('');
  out.push('Passes per image: **F** forward, **G** forward + backward to the input, **L** forward + backward to the CAM layer, ' +
    '**H** the classifier\'s head alone on given CAM-layer features (Ablation-CAM\'s ablated copies through the whole head), ' +
    '**R** the rest of the head after its per-channel reduction (pooling), on reduced `[n, k]` rows (Ablation-CAM\'s ablated copies where ' +
    'the classifier offers `LayerAccess.reduced`). ' +
    'Units (ms per image, measured in this run before and again after each model\'s method rows; the faster of the two is used): ' +
    'F = the best of batch 8 and 32, G and L = the best of batch 1 and 8, H and R = batch 32. floor = the passes the method cannot avoid × those units; ' +
    'ratio = median / floor; "ratio of min" = fastest run / floor. "ratio, lone passes at batch 1" = median / the floor in which a pass kind ' +
    'the call makes only once (one image, one gradient) costs its batch-1 time, since no call can run a single pass at batch-8 throughput ' +
    '(the same as "ratio" for every row with more than one pass of each kind). "load" = a forward at batch 8 timed before and after every row ' +
    '(their mean) over the fastest such probe of the model; "ratio, load-corrected" = median / (floor × load), i.e. with the slow-down ' +
    'from other work on the machine during that row taken out. "ratio, paired" = the median over the row\'s runs of run time / its floor timed ' +
    'right after that run (each unit call the floor needs, the fastest of 2 timings, of 9 for calls under 5 ms: a pass kind the call makes only ' +
    'once at batch 1, every other kind at the batch that gave its unit at the start), so that a row and its floor see the same load; ✗ marks ' +
    'one above ' + PAIRED_LIMIT + '. ' +
    (result.settings?.shortRuns != null ? `Rows of at most ${result.settings.shortRowMs} ms run ${result.settings.shortRuns} times, others ${result.settings.runs}. ` : '') +
    'SESS rows: 12 scales, pre-filter r = 0.9, no smoothing, `batchSize` 16, on an input at the model size (square). ' +
    '"batch" = images per call; "pass batch" = the method\'s own `batchSize` (masked images or gradient samples per pass).');
  for (const model of result.models) {
    out.push('');
    out.push(`## ${model.name} — ${model.inputSize.join('×')}, CAM layer \`${model.camLayer}\` (${model.channels} channels${model.reducedHead ? ', head reduced per channel first' : ''})`);
    out.push('');
    const u = model.units;
    const fmtUnits = (x) => PASS_KINDS.filter((k) => x[k] != null).map((k) => `${k} ${fmtMs(x[k])}`).join(', ');
    out.push(`Units (ms per image): ${fmtUnits(u)}` +
      `${model.unitsStart != null ? ` (at the start ${fmtUnits(model.unitsStart)}${model.unitsEnd != null ? `; after the rows ${fmtUnits(model.unitsEnd)}` : ''})` : ''}` +
      `${model.units1 != null ? `; at batch 1: ${fmtUnits(model.units1)}` : ''}.`);
    out.push('');
    const rows = result.rows.filter((r) => r.model === model.name);
    out.push(markdownTable(
      ['method', 'batch', 'pass batch', 'settings', 'runs', 'median', 'min–max', 'per image', 'passes (required)', 'passes (counted)', 'floor', 'ratio', 'ratio of min', 'load', 'ratio, load-corrected', 'ratio, lone passes at batch 1', 'ratio, paired', 'notes'],
      rows.map((r) => r.skipped != null
        ? [rowLabel(r), r.images, r.passBatch ?? '', r.settings ?? '', 0, '–', '–', '–', r.passes ?? '', '', fmtMs(r.floorMs), '–', '–', '–', '–', '–', '–', `skipped: ${r.skipped}`]
        : [rowLabel(r), r.images, r.passBatch ?? '', r.settings ?? '', r.time.runs, fmtMs(r.time.median),
          `${fmtMs(r.time.min)}–${fmtMs(r.time.max)}`, fmtMs(r.time.median / r.images), r.passes, r.counted ?? '', fmtMs(r.floorMs),
          `${fmtRatio(r.ratio)}${r.target != null ? (r.ratio <= r.target ? ' ✓' : ` ✗ (target ≤ ${r.target})`) : ''}`,
          fmtRatio(r.ratioMin), r.load == null ? '–' : `×${r.load.toFixed(2)}`, fmtRatio(r.ratioAdjusted), r.ratioLone == null ? '–' : fmtRatio(r.ratioLone),
          r.ratioPaired == null ? '–' : `${fmtRatio(r.ratioPaired)}${r.ratioPaired > PAIRED_LIMIT ? ` ✗ (> ${PAIRED_LIMIT})` : ''}`, (r.notes ?? []).join('; ')]),
    ));
    const paired = rows.filter((r) => r.ratioPaired != null);
    if (paired.length > 0) {
      const over = paired.filter((r) => r.ratioPaired > PAIRED_LIMIT);
      const worst = paired.reduce((a, b) => (b.ratioPaired > a.ratioPaired ? b : a));
      out.push('');
      out.push(`Paired ratios: ${paired.length} rows, highest ${fmtRatio(worst.ratioPaired)} (${rowLabel(worst)}, batch ${worst.images}); ` +
        (over.length === 0 ? `every one ≤ ${PAIRED_LIMIT} ✓.` : `${over.length} above ${PAIRED_LIMIT} ✗: ${over.map((r) => `${rowLabel(r)} batch ${r.images} (${fmtRatio(r.ratioPaired)})`).join(', ')}.`));
    }
  }
  if (result.sessSpeedup?.length > 0) {
    out.push('');
    out.push('## SESS: batched extraction vs one patch at a time');
    out.push('');
    out.push(`SESS(Grad-CAM) with every patch kept (r = 0): \`batchSize\` ${result.sess?.batchSize ?? 16} (pre-filter and Grad-CAM calls of that many patches) ` +
      'vs 1 (one patch per forward and per Grad-CAM call, as the reference implementation does), runs interleaved; ' +
      'speed-ups are medians of the per-pair ratios. "extraction" = the time after the pre-filter.');
    out.push('');
    out.push(markdownTable(
      ['model', 'base', 'scales', 'patches (kept)', 'batched', 'one at a time', 'speed-up total', 'extraction batched', 'extraction one at a time', 'speed-up extraction'],
      result.sessSpeedup.map((s) => [s.model, s.base, s.scales, `${s.patches} (${s.kept})`, fmtMs(s.batched.median), fmtMs(s.single.median),
        `×${s.speedup.total.toFixed(2)}`, fmtMs(s.batched.extraction), fmtMs(s.single.extraction), `×${s.speedup.extraction.toFixed(2)}`]),
    ));
  }
  if (result.memory != null) {
    const mem = result.memory;
    out.push('');
    out.push(`## Peak memory of RISE (${mem.model}, one image, tf.profile peakBytes)`);
    out.push('');
    out.push(markdownTable(
      ['N', 'peak bytes above the start', 'peak total', 'ms'],
      mem.runs.map((r) => [r.n, `${(r.peakAddedBytes / 2 ** 20).toFixed(1)} MiB`, `${(r.peakBytes / 2 ** 20).toFixed(1)} MiB`, fmtMs(r.ms)]),
    ));
    out.push('');
    out.push(`Ratio N=${mem.runs[1].n} / N=${mem.runs[0].n}: ${mem.ratio.toFixed(2)} (target ≤ ${mem.target}) ${mem.ratio <= mem.target ? '✓' : '✗'}`);
  }
  if (result.profiles?.length > 0) {
    out.push('');
    out.push('## Where the time goes (tf.profile of the rows with the highest floor ratio)');
    for (const p of result.profiles) {
      out.push('');
      out.push(`**${p.label}** — wall ${fmtMs(p.wallMs)}, kernels ${fmtMs(p.kernelMs)} (${(100 * p.kernelMs / p.wallMs).toFixed(0)} %), ${p.kernelCount} kernel calls${p.note ? `; ${p.note}` : ''}`);
      out.push('');
      out.push(markdownTable(['kernel', 'calls', 'ms', '% of kernel time'], p.top.map((k) => [k.name, k.calls, fmtMs(k.ms), `${k.pct.toFixed(1)} %`])));
    }
  }
  if (result.notes?.length > 0) {
    out.push('');
    out.push('## Notes');
    out.push('');
    for (const n of result.notes) out.push(`- ${n}`);
  }
  return out.join('\n') + '\n';
}

/**
 * Per-kernel totals of a `tf.profile` kernel list (`{ name, kernelTimeMs }` entries): total kernel
 * time, call count and the `top` kernels by time with their share. Entries named `…__op` are
 * op scopes (custom-gradient ops such as `fusedConv2d__op`) whose time is already in the kernel
 * they wrap; they are left out so nothing counts twice.
 */
export function aggregateKernels(kernels, top = 8) {
  const by = new Map();
  let kernelMs = 0;
  let count = 0;
  for (const k of kernels) {
    if (k.name.endsWith('__op')) continue;
    count += 1;
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : (k.kernelTimeMs?.kernelMs ?? 0);
    kernelMs += ms;
    const e = by.get(k.name) ?? { name: k.name, calls: 0, ms: 0 };
    e.calls += 1;
    e.ms += ms;
    by.set(k.name, e);
  }
  const list = [...by.values()].sort((a, b) => b.ms - a.ms || a.name.localeCompare(b.name));
  return {
    kernelMs,
    kernelCount: count,
    top: list.slice(0, top).map((e) => ({ ...e, pct: kernelMs > 0 ? (100 * e.ms) / kernelMs : 0 })),
  };
}
