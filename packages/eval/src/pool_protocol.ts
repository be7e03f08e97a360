import type { EvalJob } from './job.js';
import type { EvalRecord } from './records.js';

/** What the parent of a local worker pool sends a worker process. */
export type ToWorker = { type: 'job'; job: EvalJob } | { type: 'stop' };

/** What a local worker process sends its parent. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'done'; key: string; record: EvalRecord }
  | { type: 'error'; key: string; message: string };
