import { SaliencyError } from '@saliency/core';
import { EVAL_SET_NAMES, type EvalSetName, type EvalSplit } from './eval_set.js';
import { progressBar } from './progress_bar.js';
import { EVAL_METHODS, runEvaluation } from './run_eval.js';

/** The flags of `saliency eval`, as parsed by the CLI. */
export interface EvalFlags {
  /** `--set`: comma-separated set names or `all`. */
  set?: string;
  /** `--methods`: comma-separated method names or `all`. */
  methods?: string;
  /** `--sess`. */
  sess?: boolean;
  /** `--no-sess`: without SESS only. */
  'no-sess'?: boolean;
  /** `--split small|large`. */
  split?: string;
  /** `--masks`: RISE masks. */
  masks?: number;
  /** `--out`: the report folder. */
  out: string;
  /** Backend and machine, for the report. */
  environment: string;
  /** Worker processes (`--workers N`; 0: this process). */
  workers?: number;
  /** `--queue redis://host:port/db`: run the jobs on a BullMQ queue served by `saliency worker`. */
  queue?: string;
  /** `--queue-name`: the BullMQ queue (default saliency-eval). */
  queueName?: string;
  /** `--backend`, passed to the worker processes. */
  backend?: string;
}

function list(s: string | undefined, all: readonly string[]): string[] {
  if (s == null || s === 'all') return [...all];
  return s.split(',').map((v) => v.trim()).filter((v) => v !== '');
}

/** `saliency eval`: runs the evaluation suite with a progress bar and prints the table. */
export async function runEvalCommand(flags: EvalFlags, print: (line: string) => void, signal?: AbortSignal): Promise<number> {
  const split = flags.split ?? 'small';
  if (split !== 'small' && split !== 'large') throw new SaliencyError('BAD_OPTION', `--split must be 'small' or 'large'; got '${split}'.`);
  if (flags.sess === true && flags['no-sess'] === true) throw new SaliencyError('BAD_OPTION', '--sess and --no-sess contradict each other.');
  const bar = progressBar();
  if (flags.queue != null) print(`jobs go to ${flags.queue}; start \`saliency worker --queue ${flags.queue}\` on machines that see ${flags.out}`);
  else if ((flags.workers ?? 0) > 0) print(`${flags.workers} worker processes`);
  const result = await runEvaluation({
    sets: list(flags.set, EVAL_SET_NAMES) as EvalSetName[],
    methods: list(flags.methods, EVAL_METHODS),
    sess: flags['no-sess'] !== true,
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
  print(`wrote ${result.files.html} and ${result.files.json}`);
  return 0;
}
