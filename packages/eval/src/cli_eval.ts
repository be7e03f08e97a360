import { SaliencyError } from '@saliency/core';
import { loadClassifier, type ModelSpec } from '@saliency/node';
import { datasetEvalSet } from './dataset_eval_set.js';
import { readClassMap, readDataset } from './datasets/read_dataset.js';
import { EVAL_SET_NAMES, type EvalSetName, type EvalSplit } from './eval_set.js';
import { progressBar } from './progress_bar.js';
import { EVAL_EXTRA_METHODS, EVAL_METHODS, runEvaluation, type EvalResult } from './run_eval.js';

/** The flags of `saliency eval`, as parsed by the CLI. */
export interface EvalFlags {
  /** `--set`: comma-separated bundled sets, or `all`. */
  set?: string;
  /** `--methods`: comma-separated method names, or `all`. */
  methods?: string;
  /** `--sess`. */
  sess?: boolean;
  /** `--no-sess`: only the methods without SESS. */
  'no-sess'?: boolean;
  /** `--no-metrics`: the maps only (time and overlays), no metric. */
  'no-metrics'?: boolean;
  /** `--split`: `small`/`large` for the bundled sets; the VOC split with `--dataset voc:`. */
  split?: string;
  /** `--masks`: RISE's number of masks. */
  masks?: number;
  /** `--out`: the report folder. */
  out: string;
  /** The backend and machine, for the report. */
  environment: string;
  /** `--dataset voc:<dir> | coco:<json>,<dir>` or `--images <dir|glob>`: evaluate this instead of the bundled sets. */
  dataset?: string;
  /** `--class-map <json>`: dataset class names → model class names. */
  classMap?: string;
  /** `--target N|top`: the class to explain on folders (labelled datasets: keep only this class). */
  target?: number | 'top';
  /** The model that explains the dataset (`--model` and its flags). */
  model?: ModelSpec;
  /** Worker processes (`--workers N`; 0: this process). */
  workers?: number;
  /** `--queue redis://host:port/db`: run the jobs on a BullMQ queue served by `saliency worker`. */
  queue?: string;
  /** `--queue-name`: the BullMQ queue (default saliency-eval). */
  queueName?: string;
  /** `--backend`, passed to the worker processes. */
  backend?: string;
}

/** The run's speed, per worker count (what `--workers N` and `--queue` are compared by). */
function printThroughput(result: EvalResult, print: (line: string) => void): void {
  const t = result.throughput;
  if (t == null) return;
  const where = t.workers === 'queue' ? 'on the queue' : t.workers === 0 ? 'in this process' : `on ${t.workers} worker process${t.workers === 1 ? '' : 'es'}`;
  print(`throughput: ${t.jobs} jobs in ${t.seconds.toFixed(1)} s = ${t.jobsPerSecond.toFixed(2)} jobs/s ${where}`);
}

/** Every method the evaluation knows: the default ones, then those run only when named (or with `all`). */
const ALL_METHODS: readonly string[] = [...EVAL_METHODS, ...EVAL_EXTRA_METHODS];

function list(s: string | undefined, defaults: readonly string[], all: readonly string[] = defaults): string[] {
  if (s == null) return [...defaults];
  if (s === 'all') return [...all];
  return s.split(',').map((v) => v.trim()).filter((v) => v !== '');
}

/** `saliency eval`: runs the evaluation suite with a progress bar and prints the table. */
export async function runEvalCommand(flags: EvalFlags, print: (line: string) => void, signal?: AbortSignal): Promise<number> {
  if (flags.dataset != null) return runDatasetEval({ ...flags, dataset: flags.dataset }, print, signal);
  const split = flags.split ?? 'small';
  if (split !== 'small' && split !== 'large') throw new SaliencyError('BAD_OPTION', `--split must be 'small' or 'large'; got '${split}'.`);
  if (flags.sess === true && flags['no-sess'] === true) throw new SaliencyError('BAD_OPTION', '--sess and --no-sess contradict each other.');
  const bar = progressBar();
  if (flags.queue != null) print(`jobs go to ${flags.queue}; start \`saliency worker --queue ${flags.queue}\` on machines that see ${flags.out}`);
  else if ((flags.workers ?? 0) > 0) print(`${flags.workers} worker processes`);
  const result = await runEvaluation({
    sets: list(flags.set, EVAL_SET_NAMES) as EvalSetName[],
    methods: list(flags.methods, EVAL_METHODS, ALL_METHODS),
    sess: flags['no-sess'] !== true,
    metrics: flags['no-metrics'] !== true,
    split: split as EvalSplit,
    masks: flags.masks,
    out: flags.out,
    workers: flags.queue != null ? undefined : flags.workers,
    queue: flags.queue,
    queueName: flags.queueName,
    backend: flags.backend,
    environment: flags.environment,
    onProgress: (p) => bar(p.done, p.total, p.label),
    signal,
  });
  print(result.markdown);
  print(`${result.computed} evaluations computed, ${result.skipped} reused from ${result.files.records}`
    + (result.failed > 0 ? `, ${result.failed} failed (their errors are in the records)` : ''));
  printThroughput(result, print);
  print(`wrote ${result.files.html} and ${result.files.json}`);
  return 0;
}

/** `saliency eval --dataset|--images`: the dataset read from disk, explained by `--model`. */
async function runDatasetEval(flags: EvalFlags & { dataset: string }, print: (line: string) => void, signal?: AbortSignal): Promise<number> {
  if (flags.set != null) throw new SaliencyError('BAD_OPTION', '--set (the bundled sets) and --dataset/--images cannot be combined; run them separately.');
  if (flags.sess === true && flags['no-sess'] === true) throw new SaliencyError('BAD_OPTION', '--sess and --no-sess contradict each other.');
  const model = await loadClassifier(flags.model ?? { preset: 'face' });
  try {
    const classMap = flags.classMap != null ? readClassMap(flags.classMap) : undefined;
    const read = await readDataset(flags.dataset, { labels: model.labels, classMap, split: flags.split, target: flags.target });
    const set = await datasetEvalSet(read, `${flags.dataset}${flags.split != null ? ` (split ${flags.split})` : ''}, `
      + `model ${model.spec.preset ?? model.spec.path}; ${read.items.length} (image, class) items, ${read.skipped.length} skipped`);
    print(`dataset ${flags.dataset}: ${set.items.length} item(s) to evaluate, ${read.skipped.length} skipped`);
    for (const s of read.skipped.slice(0, 10)) print(`  skipped ${s.id}: ${s.reason}`);
    if (read.skipped.length > 10) print(`  … and ${read.skipped.length - 10} more`);
    if (set.items.length === 0) throw new SaliencyError('BAD_DATASET', `Nothing to evaluate in ${flags.dataset}: every item was skipped.`);
    const bar = progressBar();
    const result = await runEvaluation({
      dataset: { set, model: { classifier: model.classifier, camLayer: model.camLayer, spec: model.spec } },
      methods: list(flags.methods, EVAL_METHODS, ALL_METHODS), sess: flags['no-sess'] !== true, metrics: flags['no-metrics'] !== true,
      split: 'large', masks: flags.masks, out: flags.out, environment: flags.environment,
      workers: flags.queue != null ? undefined : flags.workers, queue: flags.queue, queueName: flags.queueName, backend: flags.backend,
      onProgress: (p) => bar(p.done, p.total, p.label), signal,
    });
    print(result.markdown);
    print(`${result.computed} evaluations computed, ${result.skipped} reused from ${result.files.records}`
      + (result.failed > 0 ? `, ${result.failed} failed (their errors are in the records)` : ''));
  printThroughput(result, print);
    print(`wrote ${result.files.html} and ${result.files.json}`);
    return 0;
  } finally {
    model.dispose();
  }
}
