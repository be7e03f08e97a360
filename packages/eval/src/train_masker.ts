import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  createMaskingModel, loadMaskingModel, saveMaskingModel, SaliencyError, trainMaskingModel,
  type Classifier, type MaskingModel, type MaskingProgress, type MaskingUpsampler, type MaskingSample, type ObjectiveOptionNames, type TrainMaskingResult,
} from '@saliency/core';
import { findAsset } from '@saliency/models';
import { generateLocalisationSet } from './datasets/generated_set.js';
import { fileHandler } from '@saliency/node';

/** Seed of the generated TRAINING images of the masking model (the evaluation uses another seed and held-out digits). */
export const MASKER_TRAIN_SEED = 7100;

/** The configuration the committed digit masker was trained with (`assets/masker-digits/`). */
export const DIGIT_MASKER_TRAINING: Readonly<DigitMaskerTraining> = Object.freeze({
  steps: 1000, batchSize: 8, seed: 1, learningRate: 0.003, lambdaArea: 2, upsamplerChannels: 32, upsampler: 'separable',
});

/** A masking-model training configuration (see {@link DIGIT_MASKER_TRAINING}). */
export interface DigitMaskerTraining {
  /** Adam steps. */
  steps: number;
  /** Images per step. */
  batchSize: number;
  /** Seed of the initial weights and of the training draws. */
  seed: number;
  /** Adam's learning rate. */
  learningRate: number;
  /**
   * λ_area. The reference's 8 (with its hinge losses on logits) collapses the mask to empty with
   * the paper's −log p preserver on the digit CNN: at mean mask 0.1 the area term costs 8·0.1^0.3 ≈ 4,
   * more than the preserver can ever gain (−log 0.1 ≈ 2.3 for 10 classes).
   */
  lambdaArea: number;
  /**
   * Channels of every up-sampler block. The reference's 64 (sized for ResNet-50) makes the decoder
   * three quarters of a training step's time on this 96² CNN (1.3 s per step on 2 cores, 23 min for
   * 1,000 steps); 32 quarters the decoder's convolutions (0.82 s per step, 13.6 min).
   */
  upsamplerChannels: number;
  /**
   * The up-samplers' convolutions. The committed model uses `'separable'` (depthwise 3×3 +
   * pointwise 1×1: 13 M multiply-adds for this decoder against the classifier's 49 M forward pass);
   * the reference's full 3×3 `'conv'` costs about 100 M, twice the forward pass. On the 40-scene
   * comparison of the masking guide the separable model localises as well (localisation error
   * 72.5 % for both) with a lower saliency metric (−0.231 against 0.005); see the performance guide
   * for its speed against Grad-CAM.
   */
  upsampler: MaskingUpsampler;
}

/** What {@link trainMasker} returns. */
export interface TrainedMasker {
  /** The trained model (the caller disposes it). */
  model: MaskingModel;
  /** Steps run, the step it resumed from, the last loss terms. */
  result: TrainMaskingResult;
}

/**
 * Encoder layers for a masking model: the last layer at each of the `count` coarsest distinct
 * resolutions of the classifier's 4-D layers, finest first (one zero-image forward pass per layer).
 */
export function pickEncoderLayers(classifier: Classifier, count = 3): string[] {
  const x = tf.zeros([1, ...classifier.inputSize, classifier.channels]) as tf.Tensor4D;
  try {
    const bySize = new Map<number, string>();
    for (const name of classifier.layerNames()) {
      const h = tf.tidy(() => classifier.at(name).features(classifier.preprocess(x)).shape[1]);
      bySize.set(h, name); // later layers at the same resolution win
    }
    const sizes = [...bySize.keys()].sort((a, b) => b - a);
    if (sizes.length < count) {
      throw new SaliencyError('BAD_OPTION', `The classifier has 4-D layers at only ${sizes.length} resolutions; a masking model needs ${count}.`);
    }
    return sizes.slice(-count).map((s) => bySize.get(s)!);
  } finally {
    x.dispose();
  }
}

/**
 * An endless stream of generated training scenes at the classifier's input size, labelled with
 * every class present (the trainer draws the real target among them and fake ones outside).
 */
export function* generatedMaskingData(classifier: Classifier, seed = MASKER_TRAIN_SEED): Generator<MaskingSample> {
  const [h, w] = classifier.inputSize;
  for (let i = 0; ; i++) {
    const [s] = generateLocalisationSet({ seed, count: 1, first: i, split: 'train', size: [224, 224] });
    const image = tf.tidy(() => tf.image.resizeBilinear(
      tf.tensor3d(Float32Array.from(s.pixels), [s.height, s.width, 3]), [h, w], false, true) as tf.Tensor3D);
    yield { image, label: [...new Set([s.label, ...s.distractors.map((d) => d.label)])] };
  }
}

/** Options of {@link trainMasker}. */
export interface TrainMaskerOptions {
  /** Training steps (default {@link DIGIT_MASKER_TRAINING}.steps). */
  steps?: number;
  /** Images per step (default 8). */
  batchSize?: number;
  /** Seed of the initial weights and the training draws (default 1). */
  seed?: number;
  /** Adam's learning rate (default 0.003). */
  learningRate?: number;
  /** Objective weights (default: the methods' defaults with λ_area = {@link DIGIT_MASKER_TRAINING}.lambdaArea). */
  objective?: ObjectiveOptionNames;
  /** Folder for the trained model (`model.json` + `weights.bin`) and its `checkpoint/` (resumed when present). */
  out: string;
  /** Steps between checkpoints (default 100). */
  checkpointEvery?: number;
  /** Loss terms every few steps. */
  onProgress?: (p: MaskingProgress) => void;
  /** Stops between steps; the last checkpoint stays on disk. */
  signal?: AbortSignal;
}

/**
 * Trains a masking model for a classifier on the generated digit scenes, checkpointing to
 * `out/checkpoint` (an interrupted run resumes from there) and saving the result to `out`.
 *
 * @example
 * ```ts
 * const { classifier } = await loadGeneratedClassifier();
 * const { model } = await trainMasker(classifier, { steps: 3000, out: 'masker' });
 * ```
 */
export async function trainMasker(classifier: Classifier, opts: TrainMaskerOptions): Promise<TrainedMasker> {
  const seed = opts.seed ?? DIGIT_MASKER_TRAINING.seed;
  const model = createMaskingModel(classifier, {
    encoderLayers: pickEncoderLayers(classifier), upsamplerChannels: DIGIT_MASKER_TRAINING.upsamplerChannels,
    upsampler: DIGIT_MASKER_TRAINING.upsampler, seed,
  });
  try {
    const checkpointDir = join(opts.out, 'checkpoint');
    const result = await trainMaskingModel(model, () => generatedMaskingData(classifier), {
      steps: opts.steps ?? DIGIT_MASKER_TRAINING.steps,
      batchSize: opts.batchSize ?? DIGIT_MASKER_TRAINING.batchSize,
      learningRate: opts.learningRate ?? DIGIT_MASKER_TRAINING.learningRate,
      lambdaArea: DIGIT_MASKER_TRAINING.lambdaArea,
      ...opts.objective,
      seed,
      checkpoint: fileHandler(checkpointDir),
      checkpointEvery: opts.checkpointEvery ?? 100,
      resume: existsSync(join(checkpointDir, 'model.json')),
      onProgress: opts.onProgress,
      signal: opts.signal,
    });
    await saveMaskingModel(model, fileHandler(opts.out));
    return { model, result };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * The masking model trained for the bundled digit CNN (`assets/masker-digits/`, made by
 * `saliency train-masker --set generated`).
 *
 * @example
 * ```ts
 * const masker = await loadDigitMasker(classifier);
 * const map = await explain(maskingModel(masker), classifier, image);
 * ```
 */
export async function loadDigitMasker(classifier: Classifier): Promise<MaskingModel> {
  return loadMaskingModel(classifier, fileHandler(findAsset('masker-digits')));
}

/** Whether the trained digit masker ships in this installation (`assets/masker-digits/model.json`). */
export function hasDigitMasker(): boolean {
  try {
    return existsSync(join(findAsset('masker-digits'), 'model.json'));
  } catch {
    return false;
  }
}
