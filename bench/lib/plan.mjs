// Which rows a bench run times, and with what sizes: pure, so that --quick is provably a subset of
// the full run (tests/bench/stats.test.ts) and every size choice is reproducible from the units.
import { floorMs, passesPerImage, pickSize, runsFor, sessPasses } from './stats.mjs';

/** Saliency methods, in the CLI's order (packages/node/src/explain_files.ts METHOD_NAMES). */
export const METHODS = [
  'gradient', 'guided', 'smoothgrad', 'gradcam', 'groupcam', 'scorecam', 'rise',
  'gradcam++', 'xgradcam', 'layercam', 'hirescam', 'eigencam', 'ablationcam', 'guidedgradcam', 'inputxgradient', 'integratedgradients', 'occlusion',
];
/** Models the runner knows. */
export const MODELS = ['face', 'mobilenet', 'digits'];
/**
 * Methods whose work is a batch of masked forward passes (the ≤ 1.2 target at pass batch 32).
 * They (and SESS) loop over the images of a call, so a batch-8 row costs 8 batch-1 rows and shows
 * the same ratio: those rows run only on the models in `loopB8Models`.
 */
export const PERTURBATION = ['rise', 'groupcam', 'scorecam'];
/** The methods' own default `batchSize` (what "pass batch" means for each). */
export const DEFAULT_PASS_BATCH = {
  gradient: 4, guided: 4, smoothgrad: 4, gradcam: 8, groupcam: 32, scorecam: 32, rise: 32,
  'gradcam++': 8, xgradcam: 8, layercam: 8, hirescam: 8, eigencam: 8, ablationcam: 32, guidedgradcam: 4, inputxgradient: 4,
  integratedgradients: 4, occlusion: 32,
};
/** Integrated Gradients' steps in the bench (the method's default). */
export const IG_STEPS = 50;
/** Occlusion's patch positions at the default patch (1/8 of the side) and stride (half a patch): 15 × 15 at 96², 112², 224². */
export const OCCLUSION_PATCHES = 225;
/** SESS settings of every SESS row (the quantitative setting, 12 scales). */
export const SESS_SETTINGS = { scales: 12, preFilterRatio: 0.9, smooth: false, batchSize: 16 };
/** Floor-ratio target of the perturbation methods at pass batch 32. */
export const PERTURBATION_TARGET = 1.2;
/** RISE mask counts and SmoothGrad sample counts the runner may shrink to (the floor scales with them). */
export const RISE_N = [4000, 2048, 1024, 512, 256, 128, 64, 32];
export const SMOOTH_SAMPLES = [25, 16, 8, 4];
/** Assumed floor ratio when estimating a row before it runs. */
export const ESTIMATE_RATIO = 1.25;

/** Run settings: the full run and --quick (fewer runs, a subset of rows, smaller sizes). */
export const FULL = Object.freeze({
  name: 'full', runs: 5, images: [1, 8], sessImages: [1, 8], sessMethods: null, passBatchRows: ['rise', 'groupcam'], loopB8Models: ['digits'],
  targetMs: 2500, sessTargetMs: 6000, capMs: 120000, longRowMs: 20000, longRowBudgetMs: 40000, shortRowMs: 200, shortRuns: 15, pairRepeatBelowMs: 5, pairRepeats: 9,
  riseMin: 128, sessRiseMin: 32, memoryN: [500, 8000], memoryCapMs: 240000, speedup: true, speedupScales: 12, speedupRuns: 3, profiles: 2, profileMinMs: 200, profileMaxMs: 30000,
  models: ['face', 'mobilenet', 'digits'], cpuModels: ['face'],
});
export const QUICK = Object.freeze({
  name: 'quick', runs: 3, images: [1], sessImages: [1], sessMethods: ['gradcam'], passBatchRows: [], loopB8Models: [],
  targetMs: 500, sessTargetMs: 2500, capMs: 8000, longRowMs: 20000, longRowBudgetMs: 20000, shortRowMs: 200, shortRuns: 9, pairRepeatBelowMs: 5, pairRepeats: 9,
  riseMin: 128, sessRiseMin: 32, memoryN: [256, 1024], memoryCapMs: 15000, speedup: true, speedupScales: 6, speedupRuns: 2, profiles: 1, profileMinMs: 200, profileMaxMs: 5000,
  models: ['face', 'digits'], cpuModels: ['face'],
});

/** A row's identity (what makes quick ⊂ full checkable). */
export function rowKey(r) {
  return `${r.model}|${r.method}|${r.sess ? 'sess' : '-'}|${r.images}|${r.passBatch ?? 'default'}`;
}

/**
 * The rows of one backend's run, in order: per model the floor rows (forward at batch 32, 1, 8;
 * input gradient and layer gradient at 1 and 8) first, then each method per batch, the
 * pass-batch-8 rows of RISE and Group-CAM, then the SESS rows.
 */
export function buildPlan(cfg, models, methods) {
  const rows = [];
  for (const model of models) {
    const add = (method, images, extra = {}) => rows.push({ model, method, sess: false, images, passBatch: null, ...extra });
    add('forward', 32);
    for (const b of [1, 8]) add('forward', b);
    for (const b of [1, 8]) add('inputgrad', b);
    for (const b of [1, 8]) add('layergrad', b);
    if (methods.includes('ablationcam')) { add('headpass', 32); add('restpass', 32); }
    const loops = (m, sessRow) => sessRow || PERTURBATION.includes(m);
    const wanted = (m, images, sessRow) => images === 1 || !loops(m, sessRow) || cfg.loopB8Models.includes(model);
    for (const images of cfg.images) for (const m of methods) if (wanted(m, images, false)) add(m, images);
    for (const m of methods.filter((x) => cfg.passBatchRows.includes(x))) add(m, 1, { passBatch: 8 });
    const sessMethods = methods.filter((x) => cfg.sessMethods == null || cfg.sessMethods.includes(x));
    for (const images of cfg.sessImages) for (const m of sessMethods) if (wanted(m, images, true)) add(m, images, { sess: true });
  }
  return rows;
}

/** Scales `passes` by `k`. */
export function scalePasses(p, k) {
  return { F: p.F * k, G: p.G * k, L: p.L * k, ...(p.H ? { H: p.H * k } : {}), ...(p.R ? { R: p.R * k } : {}) };
}

/**
 * Sizes, passes and estimate of one row, from the model's facts (`channels` of the CAM layer,
 * SESS `patches` and `kept`) and the measured `units` (ms per image for F, G, L).
 * Returns `{ params, settings, passes (per image), floorMs, estimateMs, runs, skip }`.
 */
export function sizeRow(row, model, units, cfg) {
  const { method, images } = row;
  const params = {};
  const settings = [];
  const geometry = { patches: model.patches, kept: model.kept };
  const wrap = (p) => (row.sess ? sessPasses(p, geometry) : p);
  const target = row.sess ? cfg.sessTargetMs : cfg.targetMs;
  const perCall = (p) => floorMs(wrap(p), units, images);
  if (method === 'rise') {
    const unit = perCall({ F: 1, G: 0, L: 0 }) - perCall({ F: 0, G: 0, L: 0 });
    const fixed = perCall({ F: 0, G: 0, L: 0 });
    const min = row.sess ? cfg.sessRiseMin : cfg.riseMin;
    params.n = pickSize(RISE_N.filter((n) => n >= min), unit, target, fixed);
    settings.push(`N=${params.n}`);
  }
  if (method === 'smoothgrad') {
    const unit = perCall({ F: 0, G: 1, L: 0 }) - perCall({ F: 0, G: 0, L: 0 });
    params.samples = pickSize(SMOOTH_SAMPLES, unit, target, perCall({ F: 0, G: 0, L: 0 }));
    settings.push(`samples=${params.samples}`);
  }
  if (method === 'groupcam') { params.groups = Math.min(32, model.channels); settings.push(`G=${params.groups}`); }
  if (method === 'scorecam' || method === 'ablationcam') { params.channels = model.channels; settings.push(`K=${params.channels}`); }
  if (method === 'ablationcam' && model.reduced) { params.reduced = true; settings.push('reduced head'); }
  if (method === 'integratedgradients') { params.steps = IG_STEPS; settings.push(`steps=${params.steps}`); }
  if (method === 'occlusion') { params.patches = OCCLUSION_PATCHES; settings.push(`${params.patches} patches`); }
  if (row.sess) settings.push(`${model.patches} patches, ${model.kept} kept`);
  const passes = wrap(passesPerImage(method, params));
  const floor = floorMs(passes, units, images);
  const estimateMs = floor * ESTIMATE_RATIO;
  const skip = estimateMs > cfg.capMs
    ? `estimated ${Math.round(estimateMs / 1000)} s per run > cap ${Math.round(cfg.capMs / 1000)} s`
    : null;
  const runs = runsFor(estimateMs, cfg);
  return { params, settings: settings.join(', '), passes, floorMs: floor, estimateMs, runs, skip };
}
