import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  createMaskingModel, saveMaskingModel, SaliencyError, trainMaskingModel,
  type Classifier, type MaskingModel, type MaskingProgress, type MaskingUpsampler, type MaskingFinestBlock, type MaskingSample, type ObjectiveOptionNames, type TrainMaskingResult,
} from '@saliency/core';
import { hasBundledMasker, loadBundledMasker } from '@saliency/models';
import { generateLocalisationSet } from './datasets/generated_set.js';
import { faceMaskingData } from './face_masking_data.js';
import { fileHandler } from '@saliency/node';

/** Seed of the generated TRAINING images of the masking model (the evaluation uses another seed and held-out digits). */
export const MASKER_TRAIN_SEED = 7100;

/** The configuration the committed digit masker was trained with (`assets/masker-digits/`). */
export const DIGIT_MASKER_TRAINING: Readonly<DigitMaskerTraining> = Object.freeze({
  steps: 1500, batchSize: 8, seed: 1, learningRate: 0.003, lambdaArea: 2, encoderLayers: Object.freeze(['conv2', 'conv3', 'conv4_bn']),
  upsamplerChannels: 32, upsampler: 'separable', finestBlock: 'lateral',
});

/**
 * The configuration the committed face masker was trained with (`assets/masker-faces/`), on
 * {@link faceMaskingData} (faces of sample photographs 1–5; sample 6 held out).
 */
export const FACE_MASKER_TRAINING: Readonly<DigitMaskerTraining> = Object.freeze({
  steps: 1000, batchSize: 8, seed: 1, learningRate: 0.003, lambdaArea: 4, lambdaTv: 0.05, encoderLayers: Object.freeze(['dense1', 'dense2']),
  upsamplerChannels: 16, upsampler: 'separable',
});

/** The training sets of {@link trainMasker}: the generated digit scenes, or the sample faces. */
export type MaskerTrainingSet = 'generated' | 'faces';

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
   * λ_tv when not the objective's default (0.005). The face masker uses 0.05: with 0.005 and λ_area 2
   * its masks kept three quarters of the face, speckled (area term 0.91, TV 42 after 1,000 steps).
   */
  lambdaTv?: number;
  /** The classifier's layers the decoder reads, finest first. */
  encoderLayers: readonly string[];
  /**
   * Channels of every up-sampler block. The reference's 64 (sized for ResNet-50) makes the decoder
   * three quarters of a training step's time on this 96² CNN (1.3 s per step on 2 cores, 23 min for
   * 1,000 steps); 32 quarters the decoder's convolutions (0.82 s per step, 13.6 min).
   */
  upsamplerChannels: number | readonly number[];
  /**
   * The up-samplers' convolutions. The committed model uses `'separable'` (depthwise 3×3 +
   * pointwise 1×1: 13 M multiply-adds for this decoder against the classifier's 49 M forward pass);
   * the reference's full 3×3 `'conv'` costs about 100 M, twice the forward pass. On the 40-scene
   * comparison of the masking guide the separable model localises as well (localisation error
   * 72.5 % for both) with a lower saliency metric (−0.231 against 0.005); see the performance guide
   * for its speed against Grad-CAM.
   */
  upsampler: MaskingUpsampler;
  /**
   * How the finest up-sampler block ends (absent: `'follow'`). `'lateral'` drops its follow-up
   * convolution, which runs at the mask's resolution (48² on the digit CNN) and cost more than half
   * of the decoder's time; the committed digit masker uses it (1,500 steps: localisation error
   * 70.0 %, saliency metric −0.132 on the masking guide's 40 scenes, against 70.0 % / −0.032 for the
   * `'follow'` model it replaced), which makes it faster than Grad-CAM also with given classes.
   */
  finestBlock?: MaskingFinestBlock;
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
  /**
   * The training set: `'generated'` (default; the digit scenes, for the digit CNN, defaults
   * {@link DIGIT_MASKER_TRAINING}) or `'faces'` ({@link faceMaskingData}, for the face-expression
   * classifier, defaults {@link FACE_MASKER_TRAINING}).
   */
  set?: MaskerTrainingSet;
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
  /** Encoder layers, finest first (default {@link DIGIT_MASKER_TRAINING}.encoderLayers). */
  encoderLayers?: readonly string[];
  /** Channels of every up-sampler block, or of each, coarsest first (default {@link DIGIT_MASKER_TRAINING}.upsamplerChannels). */
  upsamplerChannels?: number | readonly number[];
  /** The up-samplers' convolutions (default {@link DIGIT_MASKER_TRAINING}.upsampler). */
  upsampler?: MaskingUpsampler;
  /** How the finest up-sampler block ends (default {@link DIGIT_MASKER_TRAINING}.finestBlock, else `'follow'`). */
  finestBlock?: MaskingFinestBlock;
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
  const set = opts.set ?? 'generated';
  if (set !== 'generated' && set !== 'faces') {
    throw new SaliencyError('BAD_OPTION', `trainMasker: set must be 'generated' or 'faces', got '${String(set)}'.`);
  }
  const defaults = set === 'faces' ? FACE_MASKER_TRAINING : DIGIT_MASKER_TRAINING;
  const seed = opts.seed ?? defaults.seed;
  const model = createMaskingModel(classifier, {
    encoderLayers: opts.encoderLayers ?? defaults.encoderLayers,
    upsamplerChannels: opts.upsamplerChannels ?? defaults.upsamplerChannels,
    upsampler: opts.upsampler ?? defaults.upsampler, finestBlock: opts.finestBlock ?? defaults.finestBlock, seed,
  });
  try {
    const checkpointDir = join(opts.out, 'checkpoint');
    const data = set === 'faces' ? () => faceMaskingData(classifier, { seed }) : () => generatedMaskingData(classifier);
    const result = await trainMaskingModel(model, data, {
      steps: opts.steps ?? defaults.steps,
      batchSize: opts.batchSize ?? defaults.batchSize,
      learningRate: opts.learningRate ?? defaults.learningRate,
      lambdaArea: defaults.lambdaArea,
      ...(defaults.lambdaTv != null ? { lambdaTv: defaults.lambdaTv } : {}),
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
 * `saliency train-masker --set generated`); `loadBundledMasker('digits', classifier)`.
 *
 * @example
 * ```ts
 * const masker = await loadDigitMasker(classifier);
 * const map = await explain(maskingModel(masker), classifier, image);
 * ```
 */
export async function loadDigitMasker(classifier: Classifier): Promise<MaskingModel> {
  return loadBundledMasker('digits', classifier);
}

/** Whether the trained digit masker ships in this installation (`assets/masker-digits/model.json`). */
export function hasDigitMasker(): boolean {
  return hasBundledMasker('digits');
}
