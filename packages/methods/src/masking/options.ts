/*
 * Validation of the numeric options shared by the masking model and meaningful
 * perturbation. Internal to @saliency/methods.
 */
import { SaliencyError } from '@saliency/core/base';
import { ALTERNATIVE_DEFAULTS, checkAlternativeOptions, type AlternativeOptions } from './alternatives.js';
import type { ObjectiveWeights } from './objective.js';

/** A finite number ≥ min (or > min when `strict`); throws `BAD_OPTION`. */
export function checkNumber(v: number, name: string, min: number, strict = false, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (strict ? v <= min : v < min) || v > max) {
    const range = max === Infinity ? `${strict ? '>' : '≥'} ${min}` : `in ${strict ? '(' : '['}${min}, ${max}]`;
    throw new SaliencyError('BAD_OPTION', `${name} must be a finite number ${range}; got ${String(v)}.`);
  }
  return v;
}

/** The objective options as the public option objects name them. */
export interface ObjectiveOptionNames {
  /** λ_tv: weight of the smoothness term. */
  lambdaTv?: number;
  /** Weight of the squared mask values on the image border inside the smoothness term (reference 0.3). */
  borderPenalty?: number;
  /** λ_area: weight of the area term. */
  lambdaArea?: number;
  /** Exponent of the area term (0.3). */
  areaPower?: number;
  /** ε of the area term (0.0005). */
  areaEpsilon?: number;
  /** Area as `mean((M + ε)^p)` (the reference code) instead of `(mean(M) + ε)^p`. Default false. */
  areaPerPixel?: boolean;
  /** λ_d: weight of the destroyer term. */
  lambdaDestroyer?: number;
  /** λ_p: exponent of the destroyer term. */
  destroyerPower?: number;
}

/** Resolves and checks the objective weights against defaults. */
export function objectiveWeights(o: ObjectiveOptionNames, d: ObjectiveWeights, fn: string): ObjectiveWeights {
  return {
    tv: checkNumber(o.lambdaTv ?? d.tv, `${fn}: lambdaTv`, 0),
    border: checkNumber(o.borderPenalty ?? d.border, `${fn}: borderPenalty`, 0),
    area: checkNumber(o.lambdaArea ?? d.area, `${fn}: lambdaArea`, 0),
    areaPower: checkNumber(o.areaPower ?? d.areaPower, `${fn}: areaPower`, 0, true),
    areaEpsilon: checkNumber(o.areaEpsilon ?? d.areaEpsilon, `${fn}: areaEpsilon`, 0, true),
    areaPerPixel: o.areaPerPixel ?? d.areaPerPixel,
    destroyer: checkNumber(o.lambdaDestroyer ?? d.destroyer, `${fn}: lambdaDestroyer`, 0),
    destroyerPower: checkNumber(o.destroyerPower ?? d.destroyerPower, `${fn}: destroyerPower`, 0, true),
  };
}

/** Resolves and checks the alternative-image options. */
export function alternativeOptions(o: Partial<AlternativeOptions> | undefined, fn: string): AlternativeOptions {
  return checkAlternativeOptions({ ...ALTERNATIVE_DEFAULTS, ...(o ?? {}) }, fn);
}
