/**
 * Training the real-time masking model (Dabkowski & Gal 2017).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  checkPositiveInt, ensureGradientKernels, SaliencyError, throwIfAborted, variableGradients, yieldToEventLoop,
  type Progress,
} from '@saliency/core/base';
import { Adam } from './adam.js';
import { alternativeImages, type AlternativeOptions } from './alternatives.js';
import { internalsOf, type MaskingModel, type MaskingModelInternals } from './architecture.js';
import { BatchReader, type MaskingData } from './data.js';
import { maskingArtifacts, decodeArtifacts } from './io.js';
import { updateRunningStats, type BatchStats } from './layers.js';
import { maskedObjective } from './loss.js';
import { existsLoss, MASKING_OBJECTIVE_DEFAULTS } from './objective.js';
import { alternativeOptions, checkNumber, objectiveWeights, type ObjectiveOptionNames } from './options.js';
import { checkSeed, hashSeed, randomSeed, uniformStream } from './random.js';

/** Mean losses over the steps since the previous report. */
export interface MaskingLosses {
  /** The minimised objective (mean over the batch, plus the weighted exists loss). */
  total: number;
  /** Smoothness term TV(M) (unweighted, mean over samples). */
  tv: number;
  /** Area term (unweighted, mean over samples). */
  area: number;
  /** −log p_c(Φ(x, M)), mean over the samples with a real label. */
  preserver: number;
  /** p_c(Φ(x, 1 − M))^λ_p, mean over the samples with a real label. */
  destroyer: number;
  /** Selector's exists loss (binary cross-entropy), mean over samples. */
  exists: number;
}

/** Progress of {@link trainMaskingModel}: steps done of this run, and the recent losses. */
export interface MaskingProgress extends Progress {
  /** Mean losses over the steps since the previous report. */
  losses: MaskingLosses;
}

/** Options of {@link trainMaskingModel}; see {@link MASKING_TRAINING_DEFAULTS} for the defaults. */
export interface TrainMaskingOptions extends ObjectiveOptionNames {
  /** Training steps of this run (one batch each). */
  steps?: number;
  /** Images per step. Memory grows with it (3 × batch images go through the classifier with gradients). */
  batchSize?: number;
  /** Adam's step size. */
  learningRate?: number;
  /** L2 weight decay added to the gradients (as PyTorch's Adam `weight_decay`). */
  weightDecay?: number;
  /** Probability that a sample's selector gets a wrong class; its loss then only rewards an empty mask. */
  fakeLabelProb?: number;
  /** Weight of the selector's exists loss (the reference trains it in a first phase). */
  existsWeight?: number;
  /** How the alternative images are drawn (blur / colour + noise). */
  alternatives?: Partial<AlternativeOptions>;
  /** Seed of every random draw (fake labels, alternatives, noise). Default: random. */
  seed?: number;
  /** Report (and read the losses back) every this many steps, and after the last. */
  progressEvery?: number;
  /** Called every `progressEvery` steps. */
  onProgress?: (p: MaskingProgress) => void;
  /** Stops training between steps; the promise rejects with `ABORTED` (the weights keep what was learnt). */
  signal?: AbortSignal;
  /**
   * Where checkpoints go: a `tf.io.IOHandler` with `save` (and `load`, to resume), or a
   * URL tfjs resolves (`indexeddb://…`). A checkpoint holds the model, Adam's state and
   * how far the run got.
   */
  checkpoint?: tf.io.IOHandler | string;
  /** Save a checkpoint every this many steps (and after the last step). Default 500. */
  checkpointEvery?: number;
  /**
   * Resume from the checkpoint when it holds an unfinished run of this model (default true):
   * weights, running statistics, Adam's state and the step count are restored and the run
   * continues to `steps` with the same random draws. The data stream itself restarts.
   */
  resume?: boolean;
}

/** What {@link trainMaskingModel} resolves to. */
export interface TrainMaskingResult {
  /** Steps of this run done (including steps restored from a checkpoint). */
  steps: number;
  /** Step of this run the training resumed from (0 when it started afresh). */
  resumedFrom: number;
  /** Mean losses over the last reported steps. */
  losses: MaskingLosses;
}

/** The shape of {@link MASKING_TRAINING_DEFAULTS}. */
export interface MaskingTrainingDefaults {
  /** Training steps of a run. */
  steps: number;
  /** Images per step. */
  batchSize: number;
  /** Adam's step size. */
  learningRate: number;
  /** L2 weight decay. */
  weightDecay: number;
  /** Probability of a fake label per sample. */
  fakeLabelProb: number;
  /** Weight of the selector's exists loss. */
  existsWeight: number;
  /** Steps between progress reports. */
  progressEvery: number;
  /** Steps between checkpoints. */
  checkpointEvery: number;
}

/**
 * Training defaults, from the authors' `saliency_train.py` (PiotrDabkowski/pytorch-saliency)
 * unless noted.
 *
 * - `steps` 3000: their phase 2 (`nt_phase2.train(3000)`).
 * - `batchSize` 16: theirs is 64 on GPUs; 16 keeps a wasm heap small (override freely).
 * - `learningRate` 0.001 and `weightDecay` 0.0001: `torch_optim.Adam(…, 0.001, weight_decay=0.0001)`.
 * - `fakeLabelProb` 0.3: `FAKE_PROB = .3` in phase 2 (0.5 in their selector-only phase 1).
 * - `existsWeight` 1: their phase 1 minimises the exists loss alone; here it is added to
 *   the objective with weight 1 and both are trained together.
 * - `progressEvery` 10, `checkpointEvery` 500: this library's choices.
 * - The objective weights: {@link MASKING_OBJECTIVE_DEFAULTS}; the alternatives: `ALTERNATIVE_DEFAULTS`.
 */
export const MASKING_TRAINING_DEFAULTS: Readonly<MaskingTrainingDefaults> = Object.freeze({
  steps: 3000,
  batchSize: 16,
  learningRate: 0.001,
  weightDecay: 0.0001,
  fakeLabelProb: 0.3,
  existsWeight: 1,
  progressEvery: 10,
  checkpointEvery: 500,
});

const LOSS_KEYS = ['total', 'tv', 'area', 'preserver', 'destroyer', 'exists'] as const;

function lossesOf(values: ArrayLike<number>, count: number): MaskingLosses {
  const out = {} as MaskingLosses;
  LOSS_KEYS.forEach((k, i) => { out[k] = values[i] / Math.max(count, 1); });
  return out;
}

/** A sample's class for the selector: a real one (among those present) or, with probability p, a fake one. */
function drawTarget(present: readonly number[], numClasses: number, p: number, seed: number): { cls: number; real: boolean } {
  const r = uniformStream(seed);
  const fake = r() < p;
  if (!fake) return { cls: present[Math.floor(r() * present.length) % present.length], real: true };
  const absent: number[] = [];
  for (let c = 0; c < numClasses; c++) if (!present.includes(c)) absent.push(c);
  return { cls: absent[Math.floor(r() * absent.length) % absent.length], real: false };
}

function configKey(m: MaskingModel): string {
  return JSON.stringify(m.config);
}

/** Restores a checkpoint of an unfinished run into the model and optimiser; returns the step to continue from. */
async function tryResume(
  model: MaskingModelInternals, adam: Adam, handler: tf.io.IOHandler, runKey: string, steps: number,
): Promise<number> {
  if (typeof handler.load !== 'function') return 0;
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await handler.load();
  } catch {
    return 0; // nothing saved there yet
  }
  const d = decodeArtifacts(artifacts, 'The checkpoint');
  try {
    const run = d.meta.run as { key?: string; done?: number; steps?: number } | undefined;
    if (JSON.stringify(d.config) !== configKey(model)) {
      throw new SaliencyError('BAD_OPTION', 'The checkpoint holds a masking model of another architecture; use another checkpoint location or pass resume: false.');
    }
    if (run == null || run.key !== runKey || run.steps !== steps || typeof run.done !== 'number') return 0;
    const t = typeof d.meta.adamSteps === 'number' ? d.meta.adamSteps : 0;
    if (!adam.restore(d.extra, t)) return 0;
    tf.tidy(() => {
      for (const [name, v] of model.weights) {
        const saved = d.model.get(name);
        if (saved == null || !tf.util.arraysEqual(saved.shape, v.shape)) {
          throw new SaliencyError('BAD_OPTION', `The checkpoint lacks the weight '${name}'.`);
        }
        v.assign(saved);
      }
    });
    if (typeof d.meta.steps === 'number') model.steps = d.meta.steps;
    return Math.min(run.done, steps);
  } finally {
    tf.dispose([...d.model.values(), ...d.extra.values()]);
  }
}

function checkpointHandler(c: tf.io.IOHandler | string): tf.io.IOHandler {
  if (typeof c !== 'string') {
    if (c == null || typeof c.save !== 'function') throw new SaliencyError('BAD_OPTION', 'trainMaskingModel: checkpoint must be a URL or a tf.io.IOHandler with save() (and load() to resume).');
    return c;
  }
  const save = tf.io.getSaveHandlers(c)[0];
  if (save == null) throw new SaliencyError('BAD_OPTION', `trainMaskingModel: no tfjs IO handler saves to '${c}'. In Node pass a file IO handler; in browsers use indexeddb://.`);
  const load = tf.io.getLoadHandlers(c)[0];
  return { save: (a) => (save.save as NonNullable<tf.io.IOHandler['save']>)(a), load: load?.load?.bind(load) };
}

/**
 * Trains a masking model (Dabkowski & Gal 2017) to explain its classifier.
 *
 * Each step takes `batchSize` images from `data` and, per sample, gives the
 * selector the image's class — or, with probability `fakeLabelProb`, a class
 * absent from the image — and draws an alternative image A (the image blurred
 * with a 55-px Gaussian of σ 11, or a random colour plus noise). It then
 * minimises, with Adam, the mean over the batch of
 *
 * `λ_tv·TV(M) + λ_area·AR(M) + real·(−log p_c(Φ(x, M)) + λ_d·p_c(Φ(x, 1 − M))^λ_p)`
 * plus `existsWeight ×` the selector's exists loss,
 *
 * with `Φ(x, M) = x⊙M + A⊙(1 − M)`; for a fake label only the mask terms remain,
 * so the model learns to return an empty mask for a class that is not there.
 * Gradients reach only the masking model's weights; the classifier is frozen
 * (its fused kernels compute input gradients only). The preserved and destroyed
 * images of a step go through the classifier in one batch. Batch norm runs in
 * training mode and updates its running statistics.
 *
 * All randomness comes from `seed` and the step number, so the same seed, model
 * and data give the same weights, and a resumed run repeats the draws of the run
 * it resumes. Losses are read back only every `progressEvery` steps. Nothing is
 * kept between calls but the model's weights (Adam's state lives in checkpoints).
 *
 * @param model - a model from {@link createMaskingModel} (or loaded); trained in place.
 * @param data - labelled images at the classifier's input size; see `MaskingSample`.
 *   Tensors it yields are disposed by the trainer.
 * @param opts - see {@link TrainMaskingOptions} and {@link MASKING_TRAINING_DEFAULTS}.
 * @throws SaliencyError `BAD_OPTION`, `BAD_RANK`, `BAD_SIZE`, `BAD_CHANNELS`, `BAD_TARGET` (data),
 *   `NON_FINITE_INPUT` (the loss became NaN/Infinity), `NO_GRADIENTS`, `ABORTED`.
 *
 * @example
 * ```ts
 * const model = createMaskingModel(classifier, { encoderLayers: ['c1', 'c2', 'c3'], seed: 1 });
 * async function* data() { for (const { image, label } of samples) yield { image: tf.tensor3d(image), label }; }
 * const result = await trainMaskingModel(model, data, {
 *   steps: 2000, batchSize: 16, seed: 1, checkpoint: 'indexeddb://masker-checkpoint', // or any tf.io.IOHandler
 *   onProgress: (p) => console.log(p.done, p.losses.total),
 * });
 * ```
 */
export async function trainMaskingModel(model: MaskingModel, data: MaskingData, opts: TrainMaskingOptions = {}): Promise<TrainMaskingResult> {
  const m = internalsOf(model, 'trainMaskingModel');
  const fn = 'trainMaskingModel';
  const d = MASKING_TRAINING_DEFAULTS;
  const steps = checkPositiveInt(opts.steps ?? d.steps, `${fn}: steps`);
  const batchSize = checkPositiveInt(opts.batchSize ?? d.batchSize, `${fn}: batchSize`);
  const learningRate = checkNumber(opts.learningRate ?? d.learningRate, `${fn}: learningRate`, 0, true);
  const weightDecay = checkNumber(opts.weightDecay ?? d.weightDecay, `${fn}: weightDecay`, 0);
  const fakeLabelProb = checkNumber(opts.fakeLabelProb ?? d.fakeLabelProb, `${fn}: fakeLabelProb`, 0, false, 1);
  const existsWeight = checkNumber(opts.existsWeight ?? d.existsWeight, `${fn}: existsWeight`, 0);
  const progressEvery = checkPositiveInt(opts.progressEvery ?? d.progressEvery, `${fn}: progressEvery`);
  const checkpointEvery = checkPositiveInt(opts.checkpointEvery ?? d.checkpointEvery, `${fn}: checkpointEvery`);
  const weights = objectiveWeights(opts, MASKING_OBJECTIVE_DEFAULTS, fn);
  const alt = alternativeOptions(opts.alternatives, fn);
  const seed = opts.seed == null ? randomSeed() : checkSeed(opts.seed, fn);
  const ckpt = opts.checkpoint == null ? null : checkpointHandler(opts.checkpoint);
  throwIfAborted(opts.signal);
  ensureGradientKernels();

  const classifier = m.classifier;
  const K = classifier.numClasses;
  const runKey = `${seed}:${configKey(m)}`;
  const vars = m.trainableWeights;
  const adam = new Adam(vars, { learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay });
  const reader = new BatchReader(data, classifier);
  let lossSum: tf.Tensor1D | null = null;
  let lossCount = 0;
  let last: MaskingLosses = lossesOf([NaN, NaN, NaN, NaN, NaN, NaN], 1);
  try {
    const start = ckpt != null && opts.resume !== false ? await tryResume(m, adam, ckpt, runKey, steps) : 0;
    const save = async (done: number): Promise<void> => {
      if (ckpt == null) return;
      const artifacts = await maskingArtifacts(m, adam.state(), { run: { key: runKey, done, steps }, adamSteps: adam.t });
      await (ckpt.save as NonNullable<tf.io.IOHandler['save']>)(artifacts);
    };
    for (let step = start; step < steps; step++) {
      throwIfAborted(opts.signal);
      const batch = await reader.next(batchSize);
      const stepSeed = hashSeed(seed, step);
      const draws = batch.labels.map((present, i) => drawTarget(present, K, fakeLabelProb, hashSeed(stepSeed, i, 1)));
      const sampleSeeds = batch.labels.map((_, i) => hashSeed(stepSeed, i, 2));
      const stats: BatchStats[] = [];
      const owned: tf.Tensor[] = [batch.images];
      let lossVec: tf.Tensor1D | null = null;
      let ok = false;
      try {
        const cls = tf.tensor1d(draws.map((t) => t.cls), 'int32');
        const real = tf.tensor1d(draws.map((t) => (t.real ? 1 : 0)), 'float32');
        owned.push(cls, real);
        const a = alternativeImages(batch.images, classifier.inputRange, sampleSeeds, alt);
        owned.push(a.images, a.alt);
        const feats = m.features(batch.images);
        owned.push(...feats);
        const { value, grads } = variableGradients(() => {
          const { small, exists } = m.forward(feats, cls, true, (s) => stats.push(s));
          const masks = m.upsample(small);
          const { perSample, terms } = maskedObjective(classifier, a.images, a.alt, masks, cls, real, weights);
          const ex = existsLoss(exists, real);
          const total = tf.add(tf.mean(perSample), tf.mul(tf.mean(ex), existsWeight)) as tf.Scalar;
          const nReal = tf.maximum(tf.sum(real), 1);
          lossVec = tf.keep(tf.stack([
            total, tf.mean(terms.tv), tf.mean(terms.area),
            tf.div(tf.sum(tf.mul(terms.preserver, real)), nReal), tf.div(tf.sum(tf.mul(terms.destroyer, real)), nReal),
            tf.mean(ex),
          ]) as tf.Tensor1D);
          return total;
        }, [...vars]);
        owned.push(value, ...Object.values(grads));
        const list = vars.map((v) => {
          const g = grads[v.name];
          if (g != null) return g;
          const z = tf.zerosLike(v); // a weight the loss does not reach
          owned.push(z);
          return z;
        });
        adam.apply(list);
        updateRunningStats(stats);
        stats.length = 0;
        m.steps += 1;
        ok = true;
      } finally {
        for (const s of stats) tf.dispose([s.mean, s.variance]);
        tf.dispose(owned);
        if (!ok && lossVec != null) (lossVec as tf.Tensor1D).dispose();
      }
      const lv = lossVec as tf.Tensor1D | null;
      if (lv != null) {
        const prev: tf.Tensor1D | null = lossSum;
        lossSum = prev == null ? lv : tf.tidy(() => tf.add(prev, lv) as tf.Tensor1D);
        if (prev != null) tf.dispose([prev, lv]);
        lossCount++;
      }
      const done = step + 1;
      if (done % progressEvery === 0 || done === steps) {
        const sum: tf.Tensor1D | null = lossSum;
        const values = sum == null ? new Float32Array(LOSS_KEYS.length) : await sum.data();
        sum?.dispose();
        lossSum = null;
        last = lossesOf(values, lossCount);
        lossCount = 0;
        if (!Number.isFinite(last.total)) {
          throw new SaliencyError('NON_FINITE_INPUT', `trainMaskingModel: the loss became ${last.total} at step ${done}. Check the images for NaN/Infinity, or lower learningRate.`);
        }
        opts.onProgress?.({ done, total: steps, phase: 'train', losses: last });
      }
      if (done % checkpointEvery === 0 || done === steps) await save(done);
      if (done < steps) await yieldToEventLoop();
    }
    return { steps, resumedFrom: start, losses: last };
  } finally {
    if (lossSum != null) (lossSum as tf.Tensor1D).dispose();
    adam.dispose();
    await reader.close();
  }
}
