import * as tf from '@tensorflow/tfjs-core';
import {
  checkImages, checkPositiveInt, ensureGradientKernels, resolveTargets, throwIfAborted, variableGradients, yieldToEventLoop,
  type Classifier, type LongRunningOptions, type SaliencyMethod, type Targets,
} from '@saliency/core/base';
import { Adam } from './masking/adam.js';
import { alternativeImages, type AlternativeOptions } from './masking/alternatives.js';
import { maskedObjective } from './masking/loss.js';
import { MASKING_OBJECTIVE_DEFAULTS, type ObjectiveWeights } from './masking/objective.js';
import { alternativeOptions, checkNumber, objectiveWeights, type ObjectiveOptionNames } from './masking/options.js';
import { checkSeed, hashSeed, randomSeed } from './masking/random.js';
import { resizeMasks, resizeTables } from './masking/upsample.js';

/** Options of {@link meaningfulPerturbation}; defaults in {@link MEANINGFUL_PERTURBATION_DEFAULTS}. */
export interface MeaningfulPerturbationOptions extends LongRunningOptions, ObjectiveOptionNames {
  /** Optimisation steps per image. */
  steps?: number;
  /** Side of the optimised mask (it is up-sampled bilinearly to the image size). */
  maskSize?: number;
  /** Adam's step size on the mask logits. */
  learningRate?: number;
  /** Images optimised together (their masks are independent; memory grows with it). */
  batchSize?: number;
  /** How the alternative images are drawn at every step (blur / colour + noise). */
  alternatives?: Partial<AlternativeOptions>;
  /** Seed of the random alternatives. Same seed → same masks. Default: random. */
  seed?: number;
}

/** The shape of {@link MEANINGFUL_PERTURBATION_DEFAULTS}. */
export interface MeaningfulPerturbationDefaults {
  /** Optimisation steps per image. */
  steps: number;
  /** Side of the optimised mask. */
  maskSize: number;
  /** Adam's step size. */
  learningRate: number;
  /** Images optimised together. */
  batchSize: number;
  /** The objective's weights. */
  objective: Readonly<ObjectiveWeights>;
}

/**
 * Defaults of {@link meaningfulPerturbation}.
 *
 * - `steps` 300, `maskSize` 28, `learningRate` 0.1 (Adam), initial mask 0.5: Fong &
 *   Vedaldi's released code (`ruthcfong/pytorch-explain-black-box`, `explain.py`:
 *   `--epochs 300`, `--mask_size 28`, `--learning_rate 0.1`, `mask_init = 0.5`).
 * - `lambdaArea` 11, `lambdaTv` 0.5: Dabkowski & Gal's iterative baseline
 *   (`IterativeSaliency` in PiotrDabkowski/pytorch-saliency: `SaliencyLoss(area_loss_coef=11,
 *   smoothness_loss_coef=0.5)`), which optimises the same objective as the masking model.
 * - The other objective weights (area power 0.3, ε 0.0005, border 0.3, λ_d 1, λ_p 0.3) and the
 *   alternatives as the masking model (`MASKING_OBJECTIVE_DEFAULTS`, `ALTERNATIVE_DEFAULTS`).
 * - `batchSize` 8: this library's choice.
 */
export const MEANINGFUL_PERTURBATION_DEFAULTS: Readonly<MeaningfulPerturbationDefaults> = Object.freeze({
  steps: 300,
  maskSize: 28,
  learningRate: 0.1,
  batchSize: 8,
  objective: Object.freeze({ ...MASKING_OBJECTIVE_DEFAULTS, area: 11, tv: 0.5 }),
});

/**
 * Meaningful perturbation (Fong & Vedaldi 2017) with the objective of Dabkowski &
 * Gal (2017), optimised per image: the mask is `M = up(sigmoid(θ))` with θ a
 * `maskSize × maskSize` logit (initial mask 0.5) up-sampled bilinearly to the
 * image, and Adam minimises
 *
 * `λ_tv·TV(M) + λ_area·AR(M) − log p_c(Φ(x, M)) + λ_d·p_c(Φ(x, 1 − M))^λ_p`
 *
 * with `Φ(x, M) = x⊙M + A⊙(1 − M)` and A drawn afresh at every step (the blurred
 * image or a noisy random colour, as for the masking model). The images of a batch
 * are optimised together — the loss is the SUM of their objectives, so each mask
 * sees only its own gradient and the result does not depend on `batchSize` — and
 * their preserved and destroyed composites go through the classifier in one pass.
 * A sample's random draws depend on (seed, image index, step) only.
 *
 * The map is the mask itself, in [0, 1] (high = must be kept for the class).
 * `onProgress` counts image-steps (phase `'perturbation'`); `signal` is checked
 * before every step.
 *
 * @param opts - see {@link MeaningfulPerturbationOptions}.
 * @throws SaliencyError `BAD_OPTION` (at once); from `explain` the image/target
 *   codes, `NO_GRADIENTS` and `ABORTED`.
 *
 * @example
 * ```ts
 * const maps = await meaningfulPerturbation({ steps: 300, seed: 1 }).explain(classifier, images, 'top');
 * ```
 */
export function meaningfulPerturbation(opts: MeaningfulPerturbationOptions = {}): SaliencyMethod {
  const fn = 'meaningfulPerturbation';
  const d = MEANINGFUL_PERTURBATION_DEFAULTS;
  const steps = checkPositiveInt(opts.steps ?? d.steps, `${fn}: steps`);
  const maskSize = checkPositiveInt(opts.maskSize ?? d.maskSize, `${fn}: maskSize`);
  const learningRate = checkNumber(opts.learningRate ?? d.learningRate, `${fn}: learningRate`, 0, true);
  const batchSize = checkPositiveInt(opts.batchSize ?? d.batchSize, `${fn}: batchSize`);
  const weights = objectiveWeights(opts, d.objective, fn);
  const alt = alternativeOptions(opts.alternatives, fn);
  const fixedSeed = opts.seed == null ? null : checkSeed(opts.seed, fn);
  return {
    name: 'meaningful-perturbation',
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      await checkImages(images, classifier, classifier.inputSize);
      const classes = await resolveTargets(classifier, images, targets, batchSize);
      ensureGradientKernels();
      const seed = fixedSeed ?? randomSeed();
      const [count, h, w] = images.shape;
      const total = count * steps;
      const tables = resizeTables([maskSize, maskSize], [h, w]);
      const parts: tf.Tensor3D[] = [];
      let done = 0;
      try {
        for (let start = 0; start < count; start += batchSize) {
          const size = Math.min(batchSize, count - start);
          const x = tf.slice(images, [start, 0, 0, 0], [size, -1, -1, -1]) as tf.Tensor4D;
          const cls = tf.tensor1d(classes.slice(start, start + size), 'int32');
          const real = tf.ones([size]) as tf.Tensor1D;
          const init = tf.zeros([size, maskSize, maskSize]);
          const theta = tf.variable(init, true); // logits 0: the initial mask is 0.5 everywhere
          init.dispose();
          const adam = new Adam([theta], { learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
          try {
            for (let step = 0; step < steps; step++) {
              throwIfAborted(opts.signal);
              const seeds = Array.from({ length: size }, (_, i) => hashSeed(seed, start + i, step));
              const a = alternativeImages(x, classifier.inputRange, seeds, alt);
              try {
                const { value, grads } = variableGradients(() => {
                  const masks = resizeMasks(tf.sigmoid(theta) as tf.Tensor3D, tables);
                  return tf.sum(maskedObjective(classifier, a.images, a.alt, masks, cls, real, weights).perSample) as tf.Scalar;
                }, [theta]);
                adam.apply([grads[theta.name]]);
                tf.dispose([value, ...Object.values(grads)]);
              } finally {
                tf.dispose([a.images, a.alt]);
              }
              done += size;
              opts.onProgress?.({ done, total, phase: 'perturbation' });
              await yieldToEventLoop();
            }
            parts.push(tf.tidy(() => resizeMasks(tf.sigmoid(theta) as tf.Tensor3D, tables)));
          } finally {
            adam.dispose();
            tf.dispose([theta, x, cls, real]);
          }
        }
        return parts.length === 1 ? (parts.pop() as tf.Tensor3D) : tf.concat(parts, 0) as tf.Tensor3D;
      } finally {
        tf.dispose(parts);
        tf.dispose([tables.rx, tables.ry]);
      }
    },
  };
}
