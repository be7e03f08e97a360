import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SaliencyError } from '@saliency/core';
import type { EvalJob } from './job.js';
import { failedRecord } from './job_runner.js';
import type { FromWorker, ToWorker } from './pool_protocol.js';
import type { EvalRecord } from './records.js';

/** Something that happened in a local worker pool (for logs and tests). */
export type PoolEvent =
  | {
    /** A worker process was started. */
    type: 'spawn';
    /** Its process id. */
    pid: number;
  }
  | {
    /** A worker was given a job. */
    type: 'start';
    /** The worker's process id. */
    pid: number;
    /** The job's key. */
    key: string;
  }
  | {
    /** A try of a job failed and the job was queued again. */
    type: 'retry';
    /** The job's key. */
    key: string;
    /** Tries so far. */
    attempt: number;
    /** The error, or how the worker died. */
    reason: string;
  }
  | {
    /** A worker process exited. */
    type: 'exit';
    /** Its process id. */
    pid: number;
    /** Exit code (null when killed by a signal). */
    code: number | null;
    /** The signal that killed it, if any. */
    signal: NodeJS.Signals | null;
  };

/** Options of {@link runLocalPool}. */
export interface LocalPoolOptions {
  /** Worker processes (≥ 1). */
  workers: number;
  /** Backend each worker initialises (default: `initBackend`'s choice). */
  backend?: string;
  /** Tries per job before it is recorded as failed (default 3); a worker that dies mid-job counts as a try. */
  attempts?: number;
  /** Drains: no new job starts; the jobs in progress finish and are recorded. */
  signal?: AbortSignal;
  /** Receives every record (successes and, after the last try, failures), one at a time. */
  onRecord: (record: EvalRecord, job: EvalJob) => Promise<void>;
  /** Receives the pool's events. */
  onEvent?: (e: PoolEvent) => void;
  /** The worker entry script (default: this package's `dist/pool_child.js`). */
  entry?: string;
}

/** What {@link runLocalPool} did. */
export interface LocalPoolResult {
  /** Jobs recorded successfully. */
  computed: number;
  /** Jobs recorded as failed. */
  failed: number;
  /** Jobs not started because the run was drained. */
  notStarted: number;
}

/**
 * The worker entry next to this module in the built package. From the TypeScript sources (the
 * tests) it is the built file of the same package, so the workers always run built code.
 */
export function poolChildEntry(): string {
  const here = fileURLToPath(import.meta.url);
  const built = here.endsWith('.ts') ? fileURLToPath(new URL('../dist/pool_child.js', import.meta.url)) : fileURLToPath(new URL('./pool_child.js', import.meta.url));
  if (!existsSync(built)) {
    throw new SaliencyError('MISSING_PACKAGE', `The worker entry ${built} is missing: build @saliency/eval first (npm run build).`);
  }
  return built;
}

/**
 * Computes jobs in `workers` child processes (`child_process.fork`), each with its own backend
 * and one wasm thread, fed one job at a time from one queue in this process. A job whose worker
 * dies (crash, SIGKILL, out of memory) goes back to the front of the queue and a new worker is
 * started; a job that fails `attempts` times is recorded as failed with its error.
 */
export function runLocalPool(jobs: readonly EvalJob[], opts: LocalPoolOptions): Promise<LocalPoolResult> {
  const queue = [...jobs];
  const maxAttempts = opts.attempts ?? 3;
  const tries = new Map<string, number>();
  const want = Math.max(1, Math.floor(opts.workers));
  const result: LocalPoolResult = { computed: 0, failed: 0, notStarted: 0 };
  if (queue.length === 0) return Promise.resolve(result);
  const entry = opts.entry ?? poolChildEntry();
  let writes = Promise.resolve();
  let alive = 0;
  let startFailures = 0;
  let fatal: Error | null = null;
  const drained = (): boolean => opts.signal?.aborted === true || fatal != null;

  return new Promise<LocalPoolResult>((resolvePool, rejectPool) => {
    const record = (r: EvalRecord, job: EvalJob): void => {
      writes = writes.then(() => opts.onRecord(r, job));
    };
    const failTry = (job: EvalJob, reason: string): void => {
      const n = (tries.get(job.key) ?? 0) + 1;
      tries.set(job.key, n);
      if (n >= maxAttempts) {
        result.failed++;
        record(failedRecord(job, `failed ${n} times; last error: ${reason}`), job);
      } else {
        opts.onEvent?.({ type: 'retry', key: job.key, attempt: n, reason });
        queue.unshift(job);
      }
    };
    const finish = (): void => {
      result.notStarted = queue.length;
      writes.then(() => (fatal != null ? rejectPool(fatal) : resolvePool(result)), rejectPool);
    };
    const spawn = (): void => {
      const child = fork(entry, [], {
        env: { ...process.env, SALIENCY_WASM_THREADS: '1', SALIENCY_BACKEND: opts.backend ?? '' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      alive++;
      const pid = child.pid ?? -1;
      opts.onEvent?.({ type: 'spawn', pid });
      let current: EvalJob | null = null;
      let ready = false;
      let stopping = false;
      const send = (m: ToWorker): void => { child.send(m); };
      const next = (): void => {
        if (drained() || queue.length === 0) {
          if (!stopping) send({ type: 'stop' });
          stopping = true;
          return;
        }
        current = queue.shift()!;
        opts.onEvent?.({ type: 'start', pid, key: current.key });
        send({ type: 'job', job: current });
      };
      child.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          ready = true;
          startFailures = 0;
        } else if (m.type === 'done' && current != null) {
          result.computed++;
          record(m.record, current);
          current = null;
        } else if (m.type === 'error' && current != null) {
          const job = current;
          current = null;
          failTry(job, m.message);
        }
        next();
      });
      child.on('error', () => { /* 'exit' follows and re-queues the job */ });
      child.on('exit', (code, signal) => {
        alive--;
        opts.onEvent?.({ type: 'exit', pid, code, signal });
        if (current != null) {
          const job = current;
          current = null;
          failTry(job, `worker process ${pid} exited (${signal ?? `code ${code}`}) during the job`);
        }
        if (!ready && ++startFailures >= 3 && fatal == null) {
          fatal = new SaliencyError('WORKER_FAILED', `Worker processes exit before starting (last: ${signal ?? `code ${code}`}); see their messages above.`);
        }
        if (!drained() && queue.length > 0 && alive < want) spawn();
        else if (alive === 0) finish();
      });
    };
    for (let i = 0; i < Math.min(want, queue.length); i++) spawn();
  });
}
