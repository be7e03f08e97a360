/*
 * Integration rules of Integrated Gradients: points α in [0, 1] along the straight path from the
 * baseline to the image, and their weights (Σ weights = 1).
 */
import { SaliencyError } from '@saliency/core/base';

/**
 * How Integrated Gradients integrates along the path with `steps` gradient evaluations:
 * `'riemann'`: the right Riemann sum of the IG paper's Eq. 3, α_i = i/m (i = 1…m), weights 1/m;
 * `'trapezoid'`: α_i = i/(m−1) (i = 0…m−1, both ends), weights 1/(m−1) halved at the ends;
 * `'gauss-legendre'`: the m-point Gauss–Legendre nodes and weights mapped to [0, 1]
 * (Captum's default).
 */
export type IntegrationRule = 'riemann' | 'trapezoid' | 'gauss-legendre';

/** The points and weights of one rule. */
export interface QuadratureRule {
  /** Points α along the path, in [0, 1]. */
  alphas: number[];
  /** Their weights, summing to 1. */
  weights: number[];
}

/**
 * The `steps`-point rule on [0, 1]. Throws `BAD_OPTION` for an unknown rule, or a trapezoid with
 * fewer than 2 points.
 *
 * @example
 * ```ts
 * const { alphas, weights } = quadratureRule('gauss-legendre', 50);
 * ```
 */
export function quadratureRule(rule: IntegrationRule, steps: number): QuadratureRule {
  if (!Number.isInteger(steps) || steps < 1) throw new SaliencyError('BAD_OPTION', `integratedGradients: steps must be a positive integer (e.g. 50); got ${steps}.`);
  if (rule === 'riemann') {
    return { alphas: Array.from({ length: steps }, (_, i) => (i + 1) / steps), weights: new Array<number>(steps).fill(1 / steps) };
  }
  if (rule === 'trapezoid') {
    if (steps < 2) throw new SaliencyError('BAD_OPTION', `integratedGradients: the trapezoid rule needs steps ≥ 2; got ${steps}.`);
    const h = 1 / (steps - 1);
    return {
      alphas: Array.from({ length: steps }, (_, i) => i * h),
      weights: Array.from({ length: steps }, (_, i) => (i === 0 || i === steps - 1 ? h / 2 : h)),
    };
  }
  if (rule === 'gauss-legendre') return gaussLegendre(steps);
  throw new SaliencyError('BAD_OPTION', `integratedGradients: rule must be 'riemann', 'trapezoid' or 'gauss-legendre'; got ${JSON.stringify(rule)}.`);
}

/** Gauss–Legendre nodes (Newton on P_n from Chebyshev-like starts) mapped from [−1, 1] to [0, 1]. */
function gaussLegendre(n: number): QuadratureRule {
  const alphas = new Array<number>(n);
  const weights = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 1;
    for (let it = 0; it < 100; it++) {
      let p0 = 1, p1 = x;
      for (let j = 2; j <= n; j++) { const p2 = ((2 * j - 1) * x * p1 - (j - 1) * p0) / j; p0 = p1; p1 = p2; }
      if (n === 1) { p0 = 1; p1 = x; }
      dp = (n * (x * p1 - p0)) / (x * x - 1);
      const dx = p1 / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break;
    }
    alphas[n - 1 - i] = (x + 1) / 2;
    weights[n - 1 - i] = 1 / ((1 - x * x) * dp * dp);
  }
  return { alphas, weights };
}
