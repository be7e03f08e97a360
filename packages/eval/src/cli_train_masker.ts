import { SaliencyError } from '@saliency/core';
import { progressBar } from './progress_bar.js';
import { loadGeneratedClassifier } from '@saliency/models';
import { DIGIT_MASKER_TRAINING, trainMasker } from './train_masker.js';

/** The flags of `saliency train-masker`. */
export interface TrainMaskerFlags {
  /** `--set`: the training set (only `generated`, the digit scenes). */
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
}

/**
 * `saliency train-masker`: trains a masking model for the digit CNN on generated scenes with a
 * progress bar (loss terms on the bar), checkpointing so a rerun resumes.
 */
export async function runTrainMaskerCommand(flags: TrainMaskerFlags, print: (line: string) => void, signal?: AbortSignal): Promise<number> {
  if ((flags.set ?? 'generated') !== 'generated') {
    throw new SaliencyError('BAD_OPTION', `train-masker trains on --set generated (the digit scenes with the bundled digit CNN); got '${flags.set}'.`);
  }
  const { classifier, dispose } = await loadGeneratedClassifier();
  const bar = progressBar(process.stderr, 50);
  const t0 = performance.now();
  try {
    const { model, result } = await trainMasker(classifier, {
      steps: flags.steps, batchSize: flags.batch, seed: flags.seed, learningRate: flags.lr, out: flags.out, signal,
      onProgress: (p) => bar(p.done, p.total, `loss ${p.losses.total.toFixed(3)} (tv ${p.losses.tv.toFixed(3)}, area ${p.losses.area.toFixed(3)}, `
        + `preserve ${p.losses.preserver.toFixed(3)}, destroy ${p.losses.destroyer.toFixed(3)})`),
    });
    model.dispose();
    if (result.resumedFrom > 0) print(`resumed from the checkpoint at step ${result.resumedFrom}`);
    print(`trained ${result.steps} steps (batch ${flags.batch ?? DIGIT_MASKER_TRAINING.batchSize}) in ${((performance.now() - t0) / 1000).toFixed(0)} s; `
      + `last losses: ${Object.entries(result.losses).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}`);
    print(`wrote ${flags.out}/model.json and weights.bin (load with loadMaskingModel(classifier, fileHandler('${flags.out}')))`);
    return 0;
  } finally {
    dispose();
  }
}
