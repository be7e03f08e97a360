/*
 * How many wasm threads a Node process uses: the `wasmThreads` option of initBackend, else
 * the SALIENCY_WASM_THREADS environment variable, else one thread in a worker process of a
 * multi-process run (SALIENCY_WORKER_PROCESS, set by the parent), else one per core.
 */
import { SaliencyError } from '@saliency/core/base';

/**
 * Environment variable that sets the wasm thread count of a process (the CLI, or any code
 * calling `initBackend()` without `wasmThreads`): `off`, `false` or `1` for one thread,
 * `on`, `true` or `auto` for one per core, or a count from 1 to 8.
 */
export const WASM_THREADS_ENV = 'SALIENCY_WASM_THREADS';

/**
 * Environment variable a parent sets (to `1`) in the processes of a multi-process run
 * (`--workers N`): those use one wasm thread each, so that N processes never run more
 * threads than there are cores. {@link WASM_THREADS_ENV} or the `wasmThreads` option
 * still override it. Set it with {@link workerProcessEnv}.
 */
export const WORKER_PROCESS_ENV = 'SALIENCY_WORKER_PROCESS';

/** The most threads tfjs-backend-wasm 4.22's threaded build can run (its pthread pool has 8 workers). */
export const MAX_WASM_THREADS = 8;

/** Why a process runs the number of wasm threads it runs. */
export type WasmThreadsSource = 'option' | 'env' | 'worker-process' | 'cores';

/** The thread count {@link chooseWasmThreads} settled on, and why. */
export interface WasmThreadsPlan {
  /** Threads to start (1 = the single-threaded build). */
  readonly threads: number;
  /** Where the count came from. */
  readonly source: WasmThreadsSource;
  /** One sentence: the count and the reason. */
  readonly reason: string;
}

function checkCount(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new SaliencyError('BAD_OPTION', `${what} must be true, false or a thread count 1–${MAX_WASM_THREADS}; got ${String(n)}.`);
  }
  return n;
}

function perCore(cores: number, source: WasmThreadsSource, why: string): WasmThreadsPlan {
  const threads = Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(cores)));
  const capped = cores > MAX_WASM_THREADS ? ` (${MAX_WASM_THREADS} at most: tfjs's pthread pool)` : '';
  return threads > 1
    ? { threads, source, reason: `${threads} threads: one per core, ${cores} cores${capped} (${why})` }
    : { threads: 1, source, reason: `1 thread: this machine has ${cores} core (${why})` };
}

/**
 * Decides how many wasm threads a process runs, from (first that is set) the `wasmThreads`
 * option, {@link WASM_THREADS_ENV}, {@link WORKER_PROCESS_ENV} (one thread), and the core
 * count (one thread per core, at most {@link MAX_WASM_THREADS}).
 *
 * @param option - `initBackend`'s `wasmThreads`: `true` (one per core), `false` (one), or a count 1–8.
 * @param env - the environment to read (`process.env`).
 * @param cores - logical CPUs (`os.availableParallelism()`).
 * @returns the count, where it came from and a sentence saying why.
 * @throws SaliencyError `BAD_OPTION` for an option or variable outside those values.
 *
 * @example
 * ```ts
 * chooseWasmThreads(undefined, { SALIENCY_WORKER_PROCESS: '1' }, 16); // { threads: 1, source: 'worker-process', … }
 * ```
 */
export function chooseWasmThreads(
  option: boolean | number | undefined,
  env: Readonly<Record<string, string | undefined>>,
  cores: number,
): WasmThreadsPlan {
  if (option != null) {
    if (typeof option === 'boolean') {
      return option ? perCore(cores, 'option', 'wasmThreads: true') : { threads: 1, source: 'option', reason: '1 thread: wasmThreads: false' };
    }
    const n = checkCount(option, 'wasmThreads');
    return { threads: n, source: 'option', reason: `${n} thread${n > 1 ? 's' : ''}: wasmThreads: ${n}` };
  }
  const raw = env[WASM_THREADS_ENV]?.trim().toLowerCase();
  if (raw != null && raw !== '') {
    const why = `${WASM_THREADS_ENV}=${raw}`;
    if (['off', 'false', 'no'].includes(raw)) return { threads: 1, source: 'env', reason: `1 thread: ${why}` };
    if (['on', 'true', 'yes', 'auto'].includes(raw)) return perCore(cores, 'env', why);
    const n = checkCount(/^\d+$/.test(raw) ? Number(raw) : Number.NaN, WASM_THREADS_ENV);
    return { threads: n, source: 'env', reason: `${n} thread${n > 1 ? 's' : ''}: ${why}` };
  }
  const worker = env[WORKER_PROCESS_ENV]?.trim();
  if (worker != null && worker !== '' && worker !== '0') {
    return {
      threads: 1,
      source: 'worker-process',
      reason: `1 thread: a worker process of a multi-process run (${WORKER_PROCESS_ENV}=${worker}); set ${WASM_THREADS_ENV} to override`,
    };
  }
  return perCore(cores, 'cores', 'the default');
}

/**
 * The environment for a worker process of a multi-process run: `env` plus
 * {@link WORKER_PROCESS_ENV}`=1`, so that each worker's `initBackend()` runs one wasm
 * thread (N workers × 1 thread ≤ cores). A {@link WASM_THREADS_ENV} already in `env`
 * is kept and still wins (the user told otherwise).
 *
 * @param env - the parent's environment (default `process.env`).
 * @returns a new environment object for `child_process.spawn`/`fork`.
 *
 * @example
 * ```ts
 * fork(script, args, { env: workerProcessEnv() });
 * ```
 */
export function workerProcessEnv(env: Readonly<Record<string, string | undefined>> = process.env): Record<string, string | undefined> {
  return { ...env, [WORKER_PROCESS_ENV]: '1' };
}
