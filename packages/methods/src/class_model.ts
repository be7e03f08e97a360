import * as tf from '@tensorflow/tfjs-core';
import {
  checkPositiveInt, inputGradient, SaliencyError, selectTargets, throwIfAborted,
  type Classifier, type LongRunningOptions, yieldToEventLoop } from '@saliency/core/base';

/** Options of {@link classModel}. */
export interface ClassModelOptions extends LongRunningOptions {
  /** Gradient-ascent steps (default 100). */
  steps?: number;
  /**
   * Step size, in the model's preprocessed units per unit of gradient
   * (default 0.1). The update is `u ← u + lr·(∂S_c/∂u − 2λu)`; when S_c is
   * linear it converges for `lr < 1/λ`, at the rate (1 − 2λ·lr) per step.
   * Smaller values climb more slowly but monotonically.
   */
  lr?: number;
  /** Weight λ of the L2 penalty λ‖u‖² on the preprocessed image (default 0.5). */
  lambda?: number;
  /**
   * Standard deviation of Gaussian noise added to the zero start, in
   * preprocessed units (default 0: Simonyan's start from zeros).
   */
  initNoise?: number;
  /** Seed of the start noise (default 0; used only when `initNoise > 0`). */
  seed?: number;
}

/** The classifier's preprocessing as an elementwise affine map `u = a·I + b`, and the bounds of u. */
interface Affine {
  a: tf.Tensor4D;
  b: tf.Tensor4D;
  lower: tf.Tensor4D;
  upper: tf.Tensor4D;
}

function checkNumber(v: number, name: string, min: number, strict: boolean): number {
  if (!Number.isFinite(v) || (strict ? v <= min : v < min)) {
    throw new SaliencyError('BAD_OPTION', `${name} must be a finite number ${strict ? '>' : '≥'} ${min}; got ${v}.`);
  }
  return v;
}

/**
 * Reads the preprocessing off the classifier by probing it at the two ends of
 * its input range (and checking the midpoint): every `PreprocessSpec` is
 * elementwise affine. Throws `BAD_OPTION` when the probe shows it is not.
 */
async function affinePreprocess(classifier: Classifier): Promise<Affine> {
  const [h, w] = classifier.inputSize;
  const shape: [number, number, number, number] = [1, h, w, classifier.channels];
  const [lo, hi] = classifier.inputRange;
  const probe = tf.tidy(() => {
    const pLo = classifier.preprocess(tf.fill(shape, lo) as tf.Tensor4D);
    const pHi = classifier.preprocess(tf.fill(shape, hi) as tf.Tensor4D);
    const pMid = classifier.preprocess(tf.fill(shape, (lo + hi) / 2) as tf.Tensor4D);
    const a = tf.div(tf.sub(pHi, pLo), hi - lo) as tf.Tensor4D;
    const b = tf.sub(pLo, tf.mul(a, lo)) as tf.Tensor4D;
    const bend = tf.max(tf.abs(tf.sub(pMid, tf.div(tf.add(pLo, pHi), 2))));
    const scale = tf.max(tf.abs(tf.sub(pHi, pLo)));
    const minSlope = tf.min(tf.abs(a));
    return { a, b, lower: tf.minimum(pLo, pHi) as tf.Tensor4D, upper: tf.maximum(pLo, pHi) as tf.Tensor4D, checks: tf.stack([bend, scale, minSlope]) };
  });
  const [bend, scale, minSlope] = Array.from(await probe.checks.data());
  probe.checks.dispose();
  const { a, b, lower, upper } = probe;
  if (!(minSlope > 0) || !(bend <= 1e-4 * Math.max(1, scale))) {
    tf.dispose([a, b, lower, upper]);
    throw new SaliencyError('BAD_OPTION', 'classModel needs an elementwise affine preprocess (any PreprocessSpec is one): this classifier\'s preprocess is not invertible that way. Wrap the model with a preprocess spec ({ inputRange, modelRange, mean, std }).');
  }
  return { a, b, lower, upper };
}

/**
 * Class model visualisation (Simonyan, Vedaldi & Zisserman 2014): the image I
 * that maximises S_c(I) − λ‖I‖², S_c the class LOGIT, found by gradient ascent
 * from zeros.
 *
 * "Zero" and ‖I‖ are taken in the model's PREPROCESSED space, as in the paper
 * (which works on mean-subtracted images): the variable is u = preprocess(I),
 * the ascent starts from u = 0 (for a mean-subtracted model, the mean image),
 * the penalty is λ‖u‖², and every step is projected back onto the images the
 * classifier accepts (I clipped to its input range), so the result is always
 * a valid image. The preprocess must be elementwise affine (every
 * `PreprocessSpec` is).
 *
 * Defaults (100 steps, lr 0.1, λ 0.5) were chosen on the bundled
 * face-expression model, where they give face-like class models (a smile for
 * "happy", open eyes and mouth for "surprised") that the model assigns
 * p ≈ 1, without saturated pixels (larger steps or a smaller λ give
 * high-frequency patterns). For logits linear in u the iterate converges to
 * u* = ∇S_c/(2λ) (clipped to the valid range) at the rate (1 − 2λ·lr) per
 * step. A model whose preprocessed zero is black (inputs only rescaled, such
 * as MobileNetV2's [0, 1]) gives a dark image: stretch it for display.
 *
 * @param classifier - the wrapped model.
 * @param classIndex - the class to visualise.
 * @param opts - see {@link ClassModelOptions}.
 * @returns caller-owned `[H, W, C]` image at the classifier's input size, in its
 *   input range, ready to be written as a PNG.
 * @throws SaliencyError `BAD_TARGET`, `BAD_OPTION`, `NO_GRADIENTS`, `ABORTED`.
 *
 * @example
 * ```ts
 * const image = await classModel(classifier, 1, { steps: 100, lr: 0.1, lambda: 0.5 });
 * ```
 */
export async function classModel(classifier: Classifier, classIndex: number, opts: ClassModelOptions = {}): Promise<tf.Tensor3D> {
  const steps = checkPositiveInt(opts.steps ?? 100, 'steps');
  const lr = checkNumber(opts.lr ?? 0.1, 'lr', 0, true);
  const lambda = checkNumber(opts.lambda ?? 0.5, 'lambda', 0, false);
  const initNoise = checkNumber(opts.initNoise ?? 0, 'initNoise', 0, false);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new SaliencyError('BAD_OPTION', `seed must be an integer; got ${seed}.`);
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= classifier.numClasses) {
    throw new SaliencyError('BAD_TARGET', `Class index ${classIndex} is out of range: the classifier has classes 0…${classifier.numClasses - 1}.`);
  }
  throwIfAborted(opts.signal);
  const [h, w] = classifier.inputSize;
  const shape: [number, number, number, number] = [1, h, w, classifier.channels];
  const { a, b, lower, upper } = await affinePreprocess(classifier);
  const [lo, hi] = classifier.inputRange;
  const toImage = (u: tf.Tensor4D): tf.Tensor4D => tf.div(tf.sub(u, b), a) as tf.Tensor4D;
  const score = (u: tf.Tensor4D): tf.Scalar => selectTargets(classifier.logits(toImage(u)), [classIndex]);
  let u: tf.Tensor4D = tf.tidy(() => {
    const start = initNoise > 0 ? tf.randomNormal(shape, 0, initNoise, 'float32', seed) : tf.zeros(shape);
    return tf.minimum(tf.maximum(start, lower), upper) as tf.Tensor4D;
  });
  try {
    for (let step = 0; step < steps; step++) {
      throwIfAborted(opts.signal);
      const g = inputGradient(score, u);
      const current: tf.Tensor4D = u;
      u = tf.tidy(() => {
        const ascent = tf.sub(g, tf.mul(current, 2 * lambda));
        return tf.minimum(tf.maximum(tf.add(current, tf.mul(ascent, lr)), lower), upper) as tf.Tensor4D;
      });
      tf.dispose([g, current]);
      opts.onProgress?.({ done: step + 1, total: steps, phase: 'ascent' });
      if (step + 1 < steps) await yieldToEventLoop(); // lets an AbortSignal fired by a timer or UI event land
    }
    const final: tf.Tensor4D = u;
    return tf.tidy(() => tf.squeeze(tf.clipByValue(toImage(final), lo, hi), [0]) as tf.Tensor3D);
  } finally {
    tf.dispose([u, a, b, lower, upper]);
  }
}
