import { SaliencyError } from '@saliency/core';
import { DEFAULT_QUEUE_NAME } from './queue_run.js';
import { runQueueWorker } from './queue_worker.js';

/** The flags of `saliency worker`, as parsed by the CLI. */
export interface WorkerFlags {
  /** `redis://host:port/db`. */
  queue?: string;
  /** BullMQ queue name. */
  queueName?: string;
  /** Job lock duration in milliseconds (how soon a dead worker's job is run elsewhere). */
  lockMs?: number;
}

/**
 * `saliency worker --queue redis://host:port/db`: takes evaluation jobs from the queue one at a
 * time until Ctrl-C (or SIGTERM), which stops it after the job in progress is recorded.
 */
export async function runWorkerCommand(flags: WorkerFlags, print: (line: string) => void, signal?: AbortSignal): Promise<number> {
  if (flags.queue == null) throw new SaliencyError('BAD_OPTION', 'saliency worker needs --queue redis://host:port/db (the URL the run was started with).');
  const name = flags.queueName ?? DEFAULT_QUEUE_NAME;
  print(`worker ${process.pid}: taking jobs from ${flags.queue} (queue ${name}); Ctrl-C stops it after the job in progress`);
  const { processed } = await runQueueWorker({
    url: flags.queue, name, lockMs: flags.lockMs, signal,
    onEvent: (e) => print(`${e.type} ${e.job.set.name} ${e.job.variant} ${e.job.item.id}${e.message != null ? `: ${e.message}` : ''}`),
  });
  print(`worker ${process.pid}: stopped after ${processed} jobs`);
  return 0;
}
