import { join } from 'node:path';
import type { EvalJob } from './job.js';
import { failedRecord, JobRunner } from './job_runner.js';
import { JsonlStore } from './jsonl_store.js';
import type { EvalRecord } from './records.js';
import { loadBullmq } from './bullmq_loader.js';
import { DEFAULT_QUEUE_NAME, bullmqConnection } from './queue_run.js';
import { checkRedis, parseRedisUrl } from './redis_url.js';

/** What a queue worker did with one job. */
export interface QueueWorkerEvent {
  /** `start`: computing it; `done`: recorded; `duplicate`: the key already had a record; `retry`: failed, will be tried again; `failed`: recorded as failed. */
  type: 'start' | 'done' | 'duplicate' | 'retry' | 'failed';
  /** The job. */
  job: EvalJob;
  /** The error, for `retry` and `failed`. */
  message?: string;
}

/** What {@link runQueueWorker} did. */
export interface QueueWorkerResult {
  /** Jobs this worker recorded. */
  processed: number;
}

/** Options of {@link runQueueWorker}. */
export interface QueueWorkerOptions {
  /** `redis://host:port/db`. */
  url: string;
  /** BullMQ queue name (default {@link DEFAULT_QUEUE_NAME}). */
  name?: string;
  /**
   * Milliseconds a job's lock lasts without renewal (default 30 000, BullMQ's). A worker that
   * dies is noticed after about this long, and its job is run again by another worker; the
   * stalled-job check runs at the same interval.
   */
  lockMs?: number;
  /** Stops taking jobs; the job in progress finishes and is recorded first. */
  signal?: AbortSignal;
  /** Called after every job. */
  onEvent?: (e: QueueWorkerEvent) => void;
}

/**
 * Takes jobs from a BullMQ queue one at a time (concurrency 1: one process per core) and writes
 * each record to the store of the job's output folder (`records.jsonl` and the overlay PNGs under
 * the run's `--out`, which must be a path this machine sees, e.g. a shared mount). A job whose key
 * already has a record is skipped; a job that throws is retried by BullMQ with backoff, and
 * recorded as failed with its error on its last try. Resolves when `signal` aborts and the job in
 * progress is done. The backend must be initialised first.
 *
 * @throws SaliencyError `QUEUE_UNREACHABLE` when no Redis answers at `url`;
 *   `MISSING_PACKAGE` when bullmq or ioredis is not installed.
 */
export async function runQueueWorker(opts: QueueWorkerOptions): Promise<QueueWorkerResult> {
  const target = parseRedisUrl(opts.url);
  await checkRedis(target);
  const { Worker } = await loadBullmq();
  const runner = new JobRunner();
  const stores = new Map<string, Promise<JsonlStore<EvalRecord>>>();
  const storeOf = (out: string): Promise<JsonlStore<EvalRecord>> => {
    let s = stores.get(out);
    if (s == null) {
      s = JsonlStore.open<EvalRecord>(join(out, 'records.jsonl'));
      stores.set(out, s);
    }
    return s;
  };
  let processed = 0;
  const lockMs = opts.lockMs ?? 30_000;
  const worker = new Worker(opts.name ?? DEFAULT_QUEUE_NAME, async (bull) => {
    const job = bull.data as EvalJob;
    const store = await storeOf(job.out);
    await store.refresh();
    if (store.has(job.key)) {
      opts.onEvent?.({ type: 'duplicate', job });
      return 'duplicate';
    }
    opts.onEvent?.({ type: 'start', job });
    try {
      await store.add(await runner.run(job));
    } catch (e) {
      const message = e instanceof Error ? `${(e as { code?: string }).code != null ? `[${(e as { code?: string }).code}] ` : ''}${e.message}` : String(e);
      const last = bull.attemptsMade + 1 >= (bull.opts.attempts ?? 1);
      if (last) await store.add(failedRecord(job, `failed ${bull.attemptsMade + 1} times; last error: ${message}`));
      opts.onEvent?.({ type: last ? 'failed' : 'retry', job, message });
      throw e;
    }
    processed++;
    opts.onEvent?.({ type: 'done', job });
    return 'done';
  }, { connection: bullmqConnection(target), concurrency: 1, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 2 });
  let lastError = '';
  worker.on('error', (e: Error) => {
    if (e.message !== lastError) process.stderr.write(`saliency worker: ${e.message} (retrying)\n`);
    lastError = e.message;
  });
  try {
    await new Promise<void>((resolveWait) => {
      if (opts.signal == null) return;
      if (opts.signal.aborted) resolveWait();
      else opts.signal.addEventListener('abort', () => resolveWait(), { once: true });
    });
  } finally {
    await worker.close();
    await runner.dispose();
  }
  return { processed };
}
