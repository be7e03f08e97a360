import { setTimeout as sleep } from 'node:timers/promises';
import type { EvalJob } from './job.js';
import { failedRecord } from './job_runner.js';
import type { JsonlStore } from './jsonl_store.js';
import type { EvalRecord } from './records.js';
import { loadBullmq } from './bullmq_loader.js';
import { checkRedis, parseRedisUrl, type RedisTarget } from './redis_url.js';

/** The BullMQ queue a run uses unless told otherwise. */
export const DEFAULT_QUEUE_NAME = 'saliency-eval';

/** Options of {@link runOnQueue}. */
export interface QueueRunOptions {
  /** `redis://host:port/db`. */
  url: string;
  /** BullMQ queue name (default {@link DEFAULT_QUEUE_NAME}); workers must use the same. */
  name?: string;
  /** Tries per job before a worker records it as failed (default 3), with exponential backoff from 1 s. */
  attempts?: number;
  /** The run's record store (the workers append to the same file). */
  store: JsonlStore<EvalRecord>;
  /** Stops waiting (the queued jobs stay queued: a rerun or the workers finish them). */
  signal?: AbortSignal;
  /** Called when the number of finished jobs changes. */
  onProgress?: (done: number, total: number) => void;
  /** How often to read the store (default 500 ms). */
  pollMs?: number;
  /** How often to look for jobs Redis lost (default 5 s). */
  checkMs?: number;
}

/** What {@link runOnQueue} saw. */
export interface QueueRunResult {
  /** Jobs with a successful record. */
  computed: number;
  /** Jobs recorded as failed. */
  failed: number;
  /** Jobs not finished when the wait stopped. */
  notFinished: number;
}

/** Connection options BullMQ gets for a target: commands wait through reconnects instead of failing. */
export function bullmqConnection(t: RedisTarget): Record<string, unknown> {
  return { host: t.host, port: t.port, db: t.db, username: t.username, password: t.password, maxRetriesPerRequest: null };
}

/**
 * Puts jobs on a BullMQ queue (job id = the job's key, so enqueuing again — a restarted producer,
 * a rerun — adds nothing twice) and waits until every one has a record in the store, which the
 * workers write. A job Redis no longer knows (lost with a Redis restart without persistence, or
 * dropped after stalling too often) is enqueued again; one lost more than `attempts` times is
 * recorded as failed. Reconnects to Redis by itself when it restarts.
 */
export async function runOnQueue(jobs: readonly EvalJob[], opts: QueueRunOptions): Promise<QueueRunResult> {
  const target = parseRedisUrl(opts.url);
  await checkRedis(target);
  const { Queue } = await loadBullmq();
  const attempts = opts.attempts ?? 3;
  const jobOpts = { attempts, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: true };
  const queue = new Queue(opts.name ?? DEFAULT_QUEUE_NAME, { connection: bullmqConnection(target) });
  let lastError = '';
  queue.on('error', (e: Error) => {
    if (e.message !== lastError) process.stderr.write(`saliency: queue: ${e.message} (retrying)\n`);
    lastError = e.message;
  });
  const byKey = new Map(jobs.map((j) => [j.key, j]));
  const lost = new Map<string, number>();
  const { store } = opts;
  const finished = (): number => jobs.reduce((n, j) => n + (store.get(j.key) != null ? 1 : 0), 0);
  const enqueue = async (list: readonly EvalJob[]): Promise<void> => {
    for (let i = 0; i < list.length; i += 500) {
      await queue.addBulk(list.slice(i, i + 500).map((j) => ({ name: j.variant, data: j, opts: { ...jobOpts, jobId: j.key } })));
    }
  };
  try {
    await enqueue(jobs);
    let reported = -1;
    let lastCheck = Date.now();
    for (;;) {
      await store.refresh();
      const done = finished();
      if (done !== reported) opts.onProgress?.(done, jobs.length);
      reported = done;
      if (done === jobs.length || opts.signal?.aborted === true) break;
      if (Date.now() - lastCheck >= (opts.checkMs ?? 5000)) {
        lastCheck = Date.now();
        try {
          const pending = jobs.filter((j) => store.get(j.key) == null);
          const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
          if (Object.values(counts).reduce((a, b) => a + b, 0) < pending.length) {
            const missing: EvalJob[] = [];
            for (const j of pending) if (await queue.getJobState(j.key) === 'unknown') missing.push(j);
            await store.refresh();
            const again: EvalJob[] = [];
            for (const j of missing) {
              if (store.get(j.key) != null) continue;
              const n = (lost.get(j.key) ?? 0) + 1;
              lost.set(j.key, n);
              if (n > attempts) await store.add(failedRecord(byKey.get(j.key)!, `the job was lost ${n} times (its workers died, or Redis lost it)`));
              else again.push(j);
            }
            await enqueue(again);
          }
        } catch (e) {
          process.stderr.write(`saliency: queue check: ${(e as Error).message} (retrying)\n`);
        }
      }
      await sleep(opts.pollMs ?? 500);
    }
  } finally {
    await queue.close().catch(() => {});
  }
  await store.refresh();
  const recs = jobs.map((j) => store.get(j.key));
  return {
    computed: recs.filter((r) => r != null && r.error == null).length,
    failed: recs.filter((r) => r?.error != null).length,
    notFinished: recs.filter((r) => r == null).length,
  };
}
