import { camLayer } from './cam_layer.js';
import type { ExplainInput } from './cli_explain_inputs.js';
import { explainFile, type FileSummary } from './explain_files.js';
import { explainError, runExplainPool, type ExplainOutcome, type ExplainSettings } from './explain_pool.js';
import type { LoadedClassifier } from './load_classifier.js';
import { presetMasker } from './preset_masker.js';

/** `saliency explain` after its inputs are known. Internal to the CLI. */
export interface ExplainCommand extends ExplainSettings {
  /** The model the parent loaded (used in process; the workers load their own from `model`). */
  loaded: LoadedClassifier;
  /** `--workers`: 0 or 1 runs in this process. */
  workers: number;
  /** Drains the run (Ctrl-C, SIGTERM). */
  signal?: AbortSignal;
}

function fmt(p: number): string {
  return (100 * p).toFixed(1) + '%';
}

/** The four lines `saliency explain` prints for one method on one input. */
function summaryLines(input: ExplainInput, s: FileSummary): string[] {
  const region = input.region;
  const where = region != null ? ` [box ${region.x},${region.y},${region.width},${region.height}]` : '';
  return [
    `${input.path}${input.face != null ? ` face ${input.face}` : ''}${input.className != null ? ` (class ${input.className})` : ''}${where}`,
    `  top: ${s.top.map((t) => `${t.name ?? t.index} ${fmt(t.probability)}`).join(', ')}`,
    `  ${s.method}${s.layer != null ? ` @ ${s.layer}` : ''} for ${s.target.name ?? s.target.index}: peak at (${s.peak.x}, ${s.peak.y}), ${s.ms} ms`,
    `  wrote ${s.files.overlay}, ${s.files.map}, ${s.files.summary}`,
  ];
}

/**
 * Explains the inputs with every method, in this process (`workers` ≤ 1 or a single input) or in
 * `min(workers, inputs)` worker processes, printing each input's lines in input order and each
 * failure on its own line through `printError`. An image that fails is not tried again for its
 * other faces. Ends with the count of failed images.
 *
 * @returns 0; 1 when some images failed; 130 when a drain left inputs unexplained.
 */
export async function runExplainCommand(inputs: readonly ExplainInput[], cmd: ExplainCommand, print: (line: string) => void, printError: (line: string) => void): Promise<number> {
  let failed = 0;
  const attempted = new Set<string>();
  const report = (input: ExplainInput, outcome: ExplainOutcome): void => {
    attempted.add(input.path);
    for (const s of outcome.summaries) summaryLines(input, s).forEach(print);
    if (outcome.error != null) {
      // One bad file must not stop the others: report it on its own line and go on.
      failed++;
      printError(`saliency: ${input.path}: ${outcome.error.code != null ? `[${outcome.error.code}] ` : ''}${outcome.error.message}`);
    }
  };
  let notStarted = 0;
  if (cmd.workers >= 2 && inputs.length >= 2) {
    const r = await runExplainPool(inputs, { ...cmd, workers: Math.min(cmd.workers, inputs.length), onOutcome: report });
    notStarted = r.notStarted;
  } else {
    notStarted = await explainInProcess(inputs, cmd, report);
  }
  if (notStarted > 0) printError(`saliency: stopped: ${notStarted} of ${inputs.length} input${inputs.length === 1 ? '' : 's'} not explained`);
  if (failed > 0) {
    printError(`saliency: ${failed} of ${attempted.size} image${attempted.size === 1 ? '' : 's'} failed`);
    return 1;
  }
  return notStarted > 0 ? 130 : 0;
}

/** Explains the inputs one by one in this process (the bundled masker loaded once if `masking` is asked); returns how many were not started. */
async function explainInProcess(inputs: readonly ExplainInput[], cmd: ExplainCommand, report: (input: ExplainInput, outcome: ExplainOutcome) => void): Promise<number> {
  const failedPaths = new Set<string>();
  const masker = await presetMasker(cmd.loaded, cmd.methods);
  try {
    for (const [i, input] of inputs.entries()) {
      if (cmd.signal?.aborted === true) return inputs.length - i;
      if (failedPaths.has(input.path)) continue;
      const outcome: ExplainOutcome = { summaries: [], error: null };
      try {
        if (input.error != null) throw input.error;
        for (const method of cmd.methods) {
          outcome.summaries.push(await explainFile(cmd.loaded.classifier, input.path, {
            method, layer: camLayer(method, cmd.layer, cmd.loaded), target: input.target, outDir: cmd.outDir, region: input.region,
            sess: cmd.sess === true, seed: cmd.seed, masks: cmd.masks, label: input.label, masker,
          }));
        }
      } catch (e) {
        outcome.error = explainError(e);
        failedPaths.add(input.path);
      }
      report(input, outcome);
    }
    return 0;
  } finally {
    masker?.dispose();
  }
}
