import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, checkPositiveInt, gaussianBlur, resolveTargets, SaliencyError, throwIfAborted, yieldToEventLoop,
  type Classifier, type GaussianBlurOptions, type LongRunningOptions, type SaliencyMethod, type Targets,
} from '@saliency/core/base';
import { attributionMaps, checkAggregate, type AttributionAggregate } from './attribution_maps.js';
import { logitGradient } from './logit_gradient.js';
import { quadratureRule, type IntegrationRule } from './quadrature.js';

/**
 * The baseline x′ Integrated Gradients integrates from: `'black'` (every value at the low end of
 * the classifier's input range), `'blurred'` (the image under a Gaussian blur, see
 * {@link IntegratedGradientsOptions.blur}), `'uniform-noise'` (uniform noise over the input
 * range, seeded), or an image tensor in the user's pixel range: `[1, H, W, C]` for every image,
 * or `[N, H, W, C]` one per image.
 */
export type IgBaseline = 'black' | 'blurred' | 'uniform-noise' | tf.Tensor4D;

/**
 * How well one image's attributions satisfy completeness (Sundararajan et al.'s axiom):
 * Σ attributions should equal S_c(x) − S_c(x′).
 */
export interface CompletenessReport {
  /** The target class. */
  target: number;
  /** S_c(x): the target logit of the image. */
  score: number;
  /** S_c(x′): the target logit of the baseline. */
  baselineScore: number;
  /** Σ over pixels and channels of the attributions. */
  attributionSum: number;
  /** attributionSum − (score − baselineScore). */
  error: number;
  /** |error| / |score − baselineScore| (Infinity when the difference is 0 and the error is not). */
  relativeError: number;
}

/** Options of {@link integratedGradients} and {@link integratedGradientsAttributions}. */
export interface IntegratedGradientsOptions extends LongRunningOptions {
  /** Gradient evaluations along the path per image (default 50). */
  steps?: number;
  /** Integration rule (default `'gauss-legendre'`, as Captum). */
  rule?: IntegrationRule;
  /** Baseline x′ (default `'black'`). */
  baseline?: IgBaseline;
  /** Blur of the `'blurred'` baseline (default kernel 51, σ 50: Group-CAM's and the insertion metric's). */
  blur?: GaussianBlurOptions;
  /** Seed of the `'uniform-noise'` baseline (default 0); image i uses seed + i. */
  seed?: number;
  /** Path points per backward pass (default 4; images are done one after another). */
  batchSize?: number;
  /** Channel aggregation of the map (default `'absSum'`). */
  aggregate?: AttributionAggregate;
  /**
   * Receives each `explain` call's completeness reports (one per image), once the attributions
   * are done. The same reports come with {@link integratedGradientsAttributions}.
   */
  onCompleteness?: (reports: CompletenessReport[]) => void;
}

/** Integrated Gradients' per-channel attributions and their completeness reports. */
export interface IntegratedGradientsResult {
  /** (x − x′) ⊙ ∫₀¹ ∂S_c/∂x(x′ + α(x − x′)) dα, `[N, H, W, C]` (caller-owned). */
  attributions: tf.Tensor4D;
  /** One report per image. */
  completeness: CompletenessReport[];
}

interface ResolvedIg {
  steps: number; rule: IntegrationRule; baseline: IgBaseline; blur: GaussianBlurOptions; seed: number;
  batchSize: number; aggregate: AttributionAggregate;
}

function checkIgOptions(opts: IntegratedGradientsOptions): ResolvedIg {
  const steps = opts.steps ?? 50;
  const rule = opts.rule ?? 'gauss-legendre';
  quadratureRule(rule, steps); // validates both
  const baseline = opts.baseline ?? 'black';
  if (!(baseline instanceof tf.Tensor) && !['black', 'blurred', 'uniform-noise'].includes(baseline as string)) {
    throw new SaliencyError('BAD_OPTION', `integratedGradients: baseline must be 'black', 'blurred', 'uniform-noise' or an image tensor; got ${JSON.stringify(baseline)}.`);
  }
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new SaliencyError('BAD_OPTION', `integratedGradients: seed must be an integer; got ${seed}.`);
  return {
    steps, rule, baseline, seed,
    blur: opts.blur ?? { kernelSize: 51, sigma: 50 },
    batchSize: checkPositiveInt(opts.batchSize ?? 4, 'integratedGradients: batchSize'),
    aggregate: checkAggregate(opts.aggregate, 'integratedGradients', 'absSum'),
  };
}

/** The baseline of image `i` (`xi` `[1, H, W, C]`), caller-owned. */
function baselineOf(classifier: Classifier, xi: tf.Tensor4D, i: number, n: number, o: ResolvedIg): tf.Tensor4D {
  const [lo, hi] = classifier.inputRange;
  const b = o.baseline;
  if (b instanceof tf.Tensor) {
    const [, h, w, c] = xi.shape;
    if (b.rank !== 4 || (b.shape[0] !== 1 && b.shape[0] !== n) || b.shape[1] !== h || b.shape[2] !== w || b.shape[3] !== c) {
      throw new SaliencyError('BAD_OPTION', `integratedGradients: a baseline image must be [1, ${h}, ${w}, ${c}] or [${n}, ${h}, ${w}, ${c}]; got [${b.shape.join(', ')}].`);
    }
    return tf.tidy(() => tf.cast(tf.slice(b, [b.shape[0] === 1 ? 0 : i, 0, 0, 0], [1, -1, -1, -1]), 'float32') as tf.Tensor4D);
  }
  if (b === 'black') return tf.fill(xi.shape, lo, 'float32') as tf.Tensor4D;
  if (b === 'blurred') return gaussianBlur(xi, o.blur);
  return tf.randomUniform(xi.shape, lo, hi, 'float32', o.seed + i) as tf.Tensor4D;
}

/**
 * Integrated Gradients' attributions (Sundararajan, Taly & Yan 2017), per channel, with a
 * completeness report per image: A = (x − x′) ⊙ Σ_i w_i ∂S_c/∂x (x′ + α_i (x − x′)), with S_c
 * the target LOGIT, x in the user's pixel range and (α_i, w_i) the chosen {@link IntegrationRule}.
 * The path points of one image go through the model `batchSize` at a time; two more forward
 * passes per image give S_c(x) and S_c(x′) for the report (read back once, at the end).
 *
 * @throws SaliencyError `BAD_OPTION`, `NO_GRADIENTS`, `ABORTED` and the image/target codes.
 *
 * @example
 * ```ts
 * const { attributions, completeness } = await integratedGradientsAttributions(classifier, images, 'top', { steps: 128 });
 * console.log(completeness[0].relativeError);
 * attributions.dispose();
 * ```
 */
export async function integratedGradientsAttributions(
  classifier: Classifier, images: tf.Tensor4D, targets: Targets, opts: IntegratedGradientsOptions = {},
): Promise<IntegratedGradientsResult> {
  const o = checkIgOptions(opts);
  await checkImages(images, classifier, classifier.inputSize);
  const classes = await resolveTargets(classifier, images, targets, o.batchSize);
  const { alphas, weights } = quadratureRule(o.rule, o.steps);
  const grad = logitGradient(classifier);
  const [n, h, w, c] = images.shape;
  const total = n * o.steps;
  const parts: tf.Tensor4D[] = [];
  const checks: tf.Tensor1D[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const cls = classes[i] as number;
      const held: tf.Tensor[] = [];
      let acc: tf.Tensor4D | null = null;
      try {
        const xi = tf.tidy(() => tf.cast(tf.slice(images, [i, 0, 0, 0], [1, h, w, c]), 'float32') as tf.Tensor4D);
        held.push(xi);
        const base = baselineOf(classifier, xi, i, n, o);
        held.push(base);
        const diff = tf.sub(xi, base) as tf.Tensor4D;
        held.push(diff);
        for (let start = 0; start < o.steps; start += o.batchSize) {
          throwIfAborted(opts.signal);
          const size = Math.min(o.batchSize, o.steps - start);
          const a = tf.tensor4d(alphas.slice(start, start + size), [size, 1, 1, 1]);
          const path = tf.tidy(() => tf.add(base, tf.mul(a, diff)) as tf.Tensor4D);
          a.dispose();
          let g: tf.Tensor4D;
          try {
            g = grad(path, new Array<number>(size).fill(cls));
          } finally {
            path.dispose();
          }
          const prev: tf.Tensor4D | null = acc;
          acc = tf.tidy(() => {
            const wsum = tf.sum(tf.mul(g, tf.tensor4d(weights.slice(start, start + size), [size, 1, 1, 1])), 0, true) as tf.Tensor4D;
            return prev == null ? wsum : (tf.add(prev, wsum) as tf.Tensor4D);
          });
          tf.dispose([g, ...(prev == null ? [] : [prev])]);
          opts.onProgress?.({ done: i * o.steps + start + size, total, phase: 'integratedgradients' });
          await yieldToEventLoop();
        }
        const integral = acc as tf.Tensor4D;
        const attr = tf.mul(diff, integral) as tf.Tensor4D;
        parts.push(attr);
        checks.push(tf.tidy(() => {
          const s = tf.reshape(tf.slice(classifier.logits(tf.concat([xi, base])), [0, cls], [2, 1]), [2]);
          return tf.concat([tf.reshape(tf.sum(attr), [1]), s]) as tf.Tensor1D;
        }));
      } finally {
        tf.dispose([...held, ...(acc == null ? [] : [acc])]);
      }
    }
    const all = tf.stack(checks);
    const v = await all.data();
    all.dispose();
    const completeness: CompletenessReport[] = classes.map((target, i) => {
      const attributionSum = v[3 * i] as number, score = v[3 * i + 1] as number, baselineScore = v[3 * i + 2] as number;
      const d = score - baselineScore;
      const error = attributionSum - d;
      return { target, score, baselineScore, attributionSum, error, relativeError: error === 0 ? 0 : Math.abs(error) / Math.abs(d) };
    });
    const attributions = parts.length === 1 ? (parts.pop() as tf.Tensor4D) : (tf.concat(parts, 0) as tf.Tensor4D);
    return { attributions, completeness };
  } finally {
    tf.dispose([...parts, ...checks]);
  }
}

/**
 * Integrated Gradients (Sundararajan, Taly & Yan, ICML 2017): the gradient of the target LOGIT
 * integrated along the straight path from a baseline x′ to the image x, times (x − x′):
 * IG(x) = (x − x′) ⊙ ∫₀¹ ∂S_c/∂x (x′ + α(x − x′)) dα, with `steps` gradient evaluations
 * (default 50) under the chosen rule (`'riemann'`, `'trapezoid'`, `'gauss-legendre'`), batched
 * over the path; aggregated over channels (`aggregate`, default `'absSum'`) and min-max
 * normalised per image. Completeness (Σ IG = S_c(x) − S_c(x′)) holds in the limit; each call's
 * error is handed to `onCompleteness` (see {@link CompletenessReport}), and
 * {@link integratedGradientsAttributions} returns the raw attributions with it. For a linear
 * model S = w·x, IG = (x − x′) ⊙ w exactly with any rule. Cost: `steps` forward + backward
 * passes per image, plus 2 forwards for the report. `onProgress` counts path points (phase
 * `'integratedgradients'`); `signal` is checked before every pass.
 *
 * @throws SaliencyError `BAD_OPTION` (at once, or for a baseline tensor of the wrong shape);
 *   `NO_GRADIENTS`, `ABORTED` and the image/target codes from `explain`.
 *
 * @example
 * ```ts
 * const maps = await integratedGradients({ steps: 64, baseline: 'blurred', onCompleteness: (r) => console.log(r[0].relativeError) })
 *   .explain(classifier, images, 'top');
 * ```
 */
export function integratedGradients(opts: IntegratedGradientsOptions = {}): SaliencyMethod {
  const o = checkIgOptions(opts);
  return {
    name: 'integratedgradients',
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      const { attributions, completeness } = await integratedGradientsAttributions(classifier, images, targets, opts);
      try {
        const maps = attributionMaps(attributions, o.aggregate);
        opts.onCompleteness?.(completeness);
        return maps;
      } finally {
        attributions.dispose();
      }
    },
  };
}

