/**
 * The terms of the masking objective of Dabkowski & Gal (2017), shared by the
 * real-time masking model and meaningful perturbation:
 *
 * `L = λ_tv·TV(M) + λ_area·AR(M) − log p_c(Φ(x, M)) + λ_d·p_c(Φ(x, 1 − M))^λ_p`
 *
 * Every function returns ONE VALUE PER SAMPLE (`[N]`); the callers average
 * (training) or sum (per-image optimisation) them.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Weights and shapes of the objective terms; see {@link MASKING_OBJECTIVE_DEFAULTS}. */
export interface ObjectiveWeights {
  /** λ_tv, weight of the smoothness term {@link smoothnessLoss}. */
  tv: number;
  /** Weight of the squared mask values on the image border inside {@link smoothnessLoss}. */
  border: number;
  /** λ_area, weight of the area term {@link areaLoss}. */
  area: number;
  /** Exponent of the area term (0.3). */
  areaPower: number;
  /** ε added before the power in the area term (keeps its gradient finite at 0). */
  areaEpsilon: number;
  /** Area as `mean((M + ε)^p)` (the reference code) instead of `(mean(M) + ε)^p` (design.md). */
  areaPerPixel: boolean;
  /** λ_d, weight of the destroyer term {@link destroyerLoss}. */
  destroyer: number;
  /** λ_p, exponent of the destroyer term. */
  destroyerPower: number;
}

/**
 * Default objective weights of the real-time masking model.
 *
 * - `tv` 0.005: `saliency_train.py` of the authors' code (PiotrDabkowski/pytorch-saliency)
 *   builds `SaliencyLoss(black_box_fn, smoothness_loss_coef=0.005)` ("model based saliency
 *   requires very small smoothness loss").
 * - `border` 0.3: `calc_smoothness_loss(mask, power=2, border_penalty=0.3)` in `sal/utils/mask.py`.
 * - `area` 8, `areaPower` 0.3: `SaliencyLoss(area_loss_coef=8, area_loss_power=0.3)` in
 *   `sal/saliency_model.py`; `areaEpsilon` 0.0005: `calc_area_loss` adds 0.0005 before the power.
 * - `areaPerPixel` false: design.md §3 takes the power of the MEAN, `(mean(M) + ε)^0.3`;
 *   the reference code averages the per-pixel powers (set `true` for that).
 * - `destroyer` 1: the reference code weights its destroyer term by 1 (`total_loss =
 *   destroyer_loss + …`). `destroyerPower` 0.3: the paper's λ₄ must be below 1 so the
 *   destroyed probability is pushed to very small values; 0.3 (the area exponent) is used here.
 *   (The reference code replaces both class terms by Carlini–Wagner hinge losses on the logits;
 *   this library follows the paper's −log p / p^λ₄ form, as design.md §3 specifies.)
 */
export const MASKING_OBJECTIVE_DEFAULTS: Readonly<ObjectiveWeights> = Object.freeze({
  tv: 0.005,
  border: 0.3,
  area: 8,
  areaPower: 0.3,
  areaEpsilon: 0.0005,
  areaPerPixel: false,
  destroyer: 1,
  destroyerPower: 0.3,
});

/**
 * Smoothness (total variation) of masks `[N, H, W]`, per sample, as the reference
 * code computes it (`calc_smoothness_loss`, power 2):
 *
 * `TV_n = ( Σ_{i,j} (m[i+1,j] − m[i,j])² + Σ_{i,j} (m[i,j+1] − m[i,j])²
 *          + border · (Σ_j m[0,j]² + Σ_j m[H−1,j]² + Σ_i m[i,0]² + Σ_i m[i,W−1]²) ) / 2`
 *
 * Sums, not means (the reference divides only by the power 2 and the batch size),
 * so a sharp edge costs about its length. The border term pushes the mask to 0
 * on the image frame (corner pixels count in both their row and column).
 *
 * @param m - masks `[N, H, W]`.
 * @param border - weight of the border term (reference 0.3).
 * @returns `[N]`.
 */
export function smoothnessLoss(m: tf.Tensor3D, border: number): tf.Tensor1D {
  return tf.tidy(() => {
    const [n, h, w] = m.shape;
    let s: tf.Tensor = tf.zeros([n]);
    if (h > 1) {
      const dy = tf.sub(tf.slice(m, [0, 1, 0], [n, h - 1, w]), tf.slice(m, [0, 0, 0], [n, h - 1, w]));
      s = tf.add(s, tf.sum(tf.square(dy), [1, 2]));
    }
    if (w > 1) {
      const dx = tf.sub(tf.slice(m, [0, 0, 1], [n, h, w - 1]), tf.slice(m, [0, 0, 0], [n, h, w - 1]));
      s = tf.add(s, tf.sum(tf.square(dx), [1, 2]));
    }
    if (border !== 0) {
      const sq = tf.square(m);
      const edges = tf.addN([
        tf.sum(tf.slice(sq, [0, 0, 0], [n, 1, w]), [1, 2]),
        tf.sum(tf.slice(sq, [0, h - 1, 0], [n, 1, w]), [1, 2]),
        tf.sum(tf.slice(sq, [0, 0, 0], [n, h, 1]), [1, 2]),
        tf.sum(tf.slice(sq, [0, 0, w - 1], [n, h, 1]), [1, 2]),
      ]);
      s = tf.add(s, tf.mul(edges, border));
    }
    return tf.div(s, 2) as tf.Tensor1D;
  });
}

/**
 * Area of masks `[N, H, W]`, per sample: `(mean(M) + ε)^p` (design.md §3), or with
 * `perPixel` the reference code's `mean((M + ε)^p)`, which with p < 1 also
 * rewards masks whose values are near 0 or 1.
 *
 * @returns `[N]`.
 */
export function areaLoss(m: tf.Tensor3D, power: number, epsilon: number, perPixel = false): tf.Tensor1D {
  return tf.tidy(() => (perPixel
    ? tf.mean(tf.pow(tf.add(m, epsilon), power), [1, 2])
    : tf.pow(tf.add(tf.mean(m, [1, 2]), epsilon), power)) as tf.Tensor1D);
}

/** log-softmax of `logits` at each row's class, `[N]` (one-hot selection, no gather). */
export function logProbabilityOf(logits: tf.Tensor2D, classes: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(classes, 'int32'), logits.shape[1]);
    return tf.sum(tf.mul(tf.logSoftmax(logits), onehot), 1) as tf.Tensor1D;
  });
}

/**
 * Preserver term `−log p_c(Φ(x, M))` per sample, from the classifier's logits on
 * the preserved images (computed as a log-softmax, so it is finite for any logits).
 *
 * @param logits - `[N, K]` logits of `Φ(x, M)`.
 * @param classes - `[N]` class per sample.
 * @returns `[N]`.
 */
export function preserverLoss(logits: tf.Tensor2D, classes: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(logProbabilityOf(logits, classes)) as tf.Tensor1D);
}

/**
 * Destroyer term `p_c(Φ(x, 1 − M))^λ_p` per sample, computed as
 * `exp(λ_p · log p_c)` so that its gradient stays finite when p_c underflows.
 *
 * @param logits - `[N, K]` logits of `Φ(x, 1 − M)`.
 * @param classes - `[N]` class per sample.
 * @param power - λ_p.
 * @returns `[N]`.
 */
export function destroyerLoss(logits: tf.Tensor2D, classes: tf.Tensor1D, power: number): tf.Tensor1D {
  return tf.tidy(() => tf.exp(tf.mul(logProbabilityOf(logits, classes), power)) as tf.Tensor1D);
}

/**
 * Binary cross-entropy of the selector's "class is present" logit against whether
 * the label given to the selector was the real one (the reference code's
 * `exists_logits`, trained in its phase 1): `softplus(−z)` for a real label,
 * `softplus(z)` for a fake one.
 *
 * @returns `[N]`.
 */
export function existsLoss(logit: tf.Tensor1D, real: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const sign = tf.sub(1, tf.mul(real, 2)); // real → −1, fake → +1
    return tf.softplus(tf.mul(logit, sign)) as tf.Tensor1D;
  });
}

/** The per-sample terms of the objective, each `[N]`. */
export interface ObjectiveTerms {
  /** {@link smoothnessLoss}. */
  tv: tf.Tensor1D;
  /** {@link areaLoss}. */
  area: tf.Tensor1D;
  /** {@link preserverLoss}. */
  preserver: tf.Tensor1D;
  /** {@link destroyerLoss}. */
  destroyer: tf.Tensor1D;
}

/**
 * The four terms for masks at the image resolution and the classifier's logits on
 * the preserved and destroyed composites.
 */
export function objectiveTerms(
  masks: tf.Tensor3D,
  preservedLogits: tf.Tensor2D,
  destroyedLogits: tf.Tensor2D,
  classes: tf.Tensor1D,
  w: ObjectiveWeights,
): ObjectiveTerms {
  return {
    tv: smoothnessLoss(masks, w.border),
    area: areaLoss(masks, w.areaPower, w.areaEpsilon, w.areaPerPixel),
    preserver: preserverLoss(preservedLogits, classes),
    destroyer: destroyerLoss(destroyedLogits, classes, w.destroyerPower),
  };
}

/**
 * Per-sample objective `λ_tv·TV + λ_area·AR + real·(preserver + λ_d·destroyer)`.
 * For a FAKE label (`real = 0`) only the mask terms remain, so the loss then only
 * rewards an empty mask.
 *
 * @param real - `[N]`, 1 where the class given is the image's real class, 0 for a fake label.
 * @returns `[N]`.
 */
export function combineObjective(terms: ObjectiveTerms, real: tf.Tensor1D, w: ObjectiveWeights): tf.Tensor1D {
  return tf.tidy(() => {
    const mask = tf.add(tf.mul(terms.tv, w.tv), tf.mul(terms.area, w.area));
    const cls = tf.add(terms.preserver, tf.mul(terms.destroyer, w.destroyer));
    return tf.add(mask, tf.mul(cls, real)) as tf.Tensor1D;
  });
}
