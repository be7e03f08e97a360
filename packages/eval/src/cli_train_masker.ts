import { SaliencyError, type MaskingFinestBlock, type MaskingUpsampler } from '@saliency/core';
import { progressBar } from './progress_bar.js';
import { loadFaceExpressionClassifier, loadGeneratedClassifier } from '@saliency/models';
import { DIGIT_MASKER_TRAINING, FACE_MASKER_TRAINING, trainMasker } from './train_masker.js';

/** The flags of `saliency train-masker`. */
export interface TrainMaskerFlags {
  /** `--set`: the training set: `generated` (the digit scenes, digit CNN) or `faces` (the sample faces, face-expression classifier). */
  set?: string;
  /** `--steps`: optimisation steps. */
  steps?: number;
  /** `--batch`: images per step. */
  batch?: number;
  /** `--seed`: seed of the data and the initial weights. */
  seed?: number;
  /** `--lr`: Adam's learning rate. */
  lr?: number;
  /** `--out`: folder for `model.json` and the checkpoints. */
  out: string;
  /** `--encoder-layers`: comma-separated layer names of the digit CNN, finest first. */
  encoderLayers?: string;
  /** `--channels`: channels of every up-sampler block (`32`), or of each, coarsest block first (`32,16`). */
  channels?: string;
  /** `--upsampler`: `separable` or `conv`. */
  upsampler?: string;
  /** `--finest-block`: `follow` or `lateral`. */
  finestBlock?: string;
}

/**
 * `saliency train-masker`: trains a masking model for the digit CNN on generated scenes with a
 * progress bar (loss terms on the bar), checkpointing so a rerun resumes.
 */
export async function runTrainMaskerCommand(flags: TrainMaskerFlags, print: (line: string) => void, signal?: AbortSignal): Promise<number> {
  const set = flags.set ?? 'generated';
  if (set !== 'generated' && set !== 'faces') {
    throw new SaliencyError('BAD_OPTION', `train-masker trains on --set generated (the digit scenes, for the bundled digit CNN) or --set faces (the sample faces, for the face-expression classifier); got '${flags.set}'.`);
  }
  const { classifier, dispose } = set === 'faces' ? await loadFaceExpressionClassifier() : await loadGeneratedClassifier();
  const bar = progressBar(process.stderr, 50);
  const t0 = performance.now();
  try {
    const { model, result } = await trainMasker(classifier, {
      set, steps: flags.steps, batchSize: flags.batch, seed: flags.seed, learningRate: flags.lr, out: flags.out, signal,
      encoderLayers: flags.encoderLayers?.split(',').map((l) => l.trim()), upsamplerChannels: parseChannels(flags.channels),
      upsampler: flags.upsampler as MaskingUpsampler | undefined, finestBlock: flags.finestBlock as MaskingFinestBlock | undefined,
      onProgress: (p) => bar(p.done, p.total, `loss ${p.losses.total.toFixed(3)} (tv ${p.losses.tv.toFixed(3)}, area ${p.losses.area.toFixed(3)}, `
        + `preserve ${p.losses.preserver.toFixed(3)}, destroy ${p.losses.destroyer.toFixed(3)})`),
    });
    model.dispose();
    if (result.resumedFrom > 0) print(`resumed from the checkpoint at step ${result.resumedFrom}`);
    print(`trained ${result.steps} steps (batch ${flags.batch ?? (set === 'faces' ? FACE_MASKER_TRAINING : DIGIT_MASKER_TRAINING).batchSize}) in ${((performance.now() - t0) / 1000).toFixed(0)} s; `
      + `last losses: ${Object.entries(result.losses).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}`);
    print(`wrote ${flags.out}/model.json and weights.bin (load with loadMaskingModel(classifier, fileHandler('${flags.out}')))`);
    return 0;
  } finally {
    dispose();
  }
}

/** `--channels 32` or `32,16` (digits only; each a positive integer). */
function parseChannels(v: string | undefined): number | number[] | undefined {
  if (v == null) return undefined;
  if (!/^\d+(,\d+)*$/.test(v)) throw new SaliencyError('BAD_OPTION', `--channels takes a positive integer or a comma-separated list of them (one per up-sampler block, coarsest first); got '${v}'.`);
  const list = v.split(',').map(Number);
  return list.length === 1 ? list[0] : list;
}
