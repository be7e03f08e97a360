import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SaliencyError, type SaliencyErrorCode } from '@saliency/core/base';
import type { ExplainInput } from './cli_explain_inputs.js';
import type { FileSummary } from './explain_files.js';
import type { ModelSpec } from './load_classifier.js';
import { workerProcessEnv } from './wasm_threads_policy.js';

/** What every input of an explain run shares: the model, the backend, the methods and their options. */
export interface ExplainSettings {
  /** The model each worker process loads (as `modelSpecFromFlags` makes it from the CLI flags). */
  model: ModelSpec;
  /** The backend each worker process initialises (the one the parent chose); default `initBackend`'s choice. */
  backend?: string;
  /** The methods run on every input, in order (names of `METHOD_NAMES`). */
  methods: readonly string[];
  /** `--layer`: the CAM layer (default: the model's). */
  layer?: string;
  /** Wrap every method in SESS. */
  sess?: boolean;
  /** Seed of the stochastic methods. */
  seed?: number;
  /** Number of RISE masks. */
  masks?: number;
  /** Folder the files go to (absolute, or relative to the working directory the workers share). */
  outDir: string;
}

/** An error sent between processes: its `SaliencyError` code, if it had one, and its message. */
export interface ExplainError {
  /** The `SaliencyError` code, absent for other errors. */
  code?: SaliencyErrorCode;
  /** The message. */
  message: string;
}

/** What became of one input: the summaries of the methods that ran, and the error that stopped it. */
export interface ExplainOutcome {
  /** One summary per method that succeeded, in the order of the methods. */
  summaries: FileSummary[];
  /** Why the input stopped before its last method, or null when every method ran. */
  error: ExplainError | null;
}

/** What the parent sends an explain worker process. @internal */
export type ToExplainChild =
  | { type: 'init'; settings: ExplainSettings }
  | { type: 'input'; index: number; input: Omit<ExplainInput, 'error'> }
  | { type: 'stop' };

/** What an explain worker process sends its parent. @internal */
export type FromExplainChild =
  | { type: 'ready' }
  | { type: 'fatal'; error: ExplainError }
  | { type: 'result'; index: number; outcome: ExplainOutcome };

/** Something that happened in an explain pool (for logs and tests). */
export type ExplainPoolEvent =
  | {
    /** A worker process was started. */
    type: 'spawn';
    /** Its process id. */
    pid: number;
  }
  | {
    /** A worker was given an input. */
    type: 'start';
    /** The worker's process id. */
    pid: number;
    /** The input's position in the list. */
    index: number;
  }
  | {
    /** A worker died during an input, which goes back to the front of the queue. */
    type: 'retry';
    /** The input's position. */
    index: number;
    /** How the worker died. */
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

/** Options of {@link runExplainPool}: the shared settings, plus how to run them. */
export interface ExplainPoolOptions extends ExplainSettings {
  /** Worker processes to start at most (≥ 1; no more than there are inputs to explain). */
  workers: number;
  /** Drains: no new input starts; the inputs in progress finish and are reported. */
  signal?: AbortSignal;
  /**
   * Receives each input's outcome, in the order of the inputs (an outcome that arrives early
   * waits for those before it). An input whose image already failed for an earlier input of
   * the same file is not reported (the in-process loop does not try it either).
   */
  onOutcome: (input: ExplainInput, outcome: ExplainOutcome, index: number) => void;
  /** Receives the pool's events. */
  onEvent?: (e: ExplainPoolEvent) => void;
  /** Tries of an input whose worker dies during it (default 2: one retry). Errors the method throws are not retried. */
  attempts?: number;
  /** The worker entry script (default: this package's built `dist/explain_child.js`). */
  entry?: string;
}

/** What {@link runExplainPool} did. */
export interface ExplainPoolResult {
  /** Inputs reported through `onOutcome`. */
  reported: number;
  /** Inputs not started because the run was drained. */
  notStarted: number;
}

/**
 * The explain worker entry next to this module in the built package. From the TypeScript
 * sources (the tests) it is the built file of the same package, so workers always run built code.
 *
 * @returns the absolute path of `dist/explain_child.js`.
 * @throws SaliencyError `MISSING_PACKAGE` when it has not been built.
 */
export function explainChildEntry(): string {
  const here = fileURLToPath(import.meta.url);
  const built = here.endsWith('.ts')
    ? fileURLToPath(new URL('../dist/explain_child.js', import.meta.url))
    : fileURLToPath(new URL('./explain_child.js', import.meta.url));
  if (!existsSync(built)) {
    throw new SaliencyError('MISSING_PACKAGE', `The worker entry ${built} is missing: build @saliency/node first (npm run build).`);
  }
  return built;
}

/** An error as it crosses a process boundary (the code only for a `SaliencyError`, as the CLI prints it). */
export function explainError(e: unknown): ExplainError {
  if (e instanceof SaliencyError) return { code: e.code, message: e.message };
  return { message: e instanceof Error ? e.message : String(e) };
}

type State = 'queued' | 'running' | 'done' | 'skipped';

/**
 * Explains `inputs` in child processes (`child_process.fork`, with {@link workerProcessEnv}: one
 * wasm thread each), each loading the model once on its own backend and taking one input at a time
 * from one queue in this process; every method of `opts.methods` runs on each input through
 * `explainFile`, exactly as `saliency explain` does in process, and the outcomes come back in
 * input order. Inputs that carry an `error` are reported without a worker. A worker that dies
 * during an input (crash, SIGKILL, out of memory) is replaced and the input tried again, up to
 * `attempts` times in all; after that it is reported failed (`WORKER_FAILED`). The workers exit
 * when the queue is empty. Nothing here allocates tensors.
 *
 * @param inputs - what to explain (from `explainInputs`).
 * @param opts - the model, backend, methods, workers and callbacks.
 * @returns how many inputs were reported and how many a drain left unstarted.
 * @throws SaliencyError the error of a worker that cannot initialise its backend or load the model
 *   (its own code, e.g. `BAD_MODEL`), or `WORKER_FAILED` when workers keep exiting before they are
 *   ready; the other workers are stopped first.
 *
 * @example
 * ```ts
 * await runExplainPool(inputs, {
 *   workers: 4, model: { preset: 'face' }, methods: ['gradcam'], outDir: 'out',
 *   onOutcome: (input, o) => console.log(input.path, o.error?.message ?? o.summaries[0].target.name),
 * });
 * ```
 */
export function runExplainPool(inputs: readonly ExplainInput[], opts: ExplainPoolOptions): Promise<ExplainPoolResult> {
  const n = inputs.length;
  const state: State[] = inputs.map((i) => (i.error != null ? 'done' : 'queued'));
  const outcomes: (ExplainOutcome | null)[] = inputs.map((i) => (i.error != null ? { summaries: [], error: explainError(i.error) } : null));
  const queue: number[] = [];
  state.forEach((s, i) => { if (s === 'queued') queue.push(i); });
  const maxAttempts = Math.max(1, opts.attempts ?? 2);
  const tries = new Map<number, number>();
  const firstFailure = new Map<string, number>(); // path → smallest index known to have failed
  const reportedFailure = new Set<string>(); // paths whose failure has been reported
  const result: ExplainPoolResult = { reported: 0, notStarted: 0 };
  const want = Math.max(1, Math.floor(opts.workers));
  const settings: ExplainSettings = {
    model: opts.model, backend: opts.backend, methods: [...opts.methods], layer: opts.layer,
    sess: opts.sess, seed: opts.seed, masks: opts.masks, outDir: opts.outDir,
  };
  let next = 0; // the next index to report
  let alive = 0;
  let startFailures = 0;
  let fatal: SaliencyError | null = null;
  const children = new Set<ReturnType<typeof fork>>();
  const drained = (): boolean => opts.signal?.aborted === true || fatal != null;

  const noteFailure = (i: number): void => {
    const path = inputs[i].path;
    if (outcomes[i]?.error != null && (firstFailure.get(path) ?? Infinity) > i) firstFailure.set(path, i);
  };
  state.forEach((s, i) => { if (s === 'done') noteFailure(i); });

  /** Reports, in order, every outcome whose predecessors are all settled. */
  const flush = (final: boolean): void => {
    while (next < n) {
      const s = state[next];
      if (s === 'done') {
        const input = inputs[next];
        const outcome = outcomes[next]!;
        if (!reportedFailure.has(input.path)) {
          if (outcome.error != null) reportedFailure.add(input.path);
          result.reported++;
          opts.onOutcome(input, outcome, next);
        }
      } else if (s === 'skipped') {
        // an earlier input of the same image failed: not tried, not reported
      } else if (s === 'queued' && (drained() || final)) {
        result.notStarted++;
      } else {
        return;
      }
      next++;
    }
  };

  /** The next queued input worth starting, or null (skips inputs of images that already failed). */
  const take = (): number | null => {
    while (queue.length > 0) {
      const i = queue.shift()!;
      if ((firstFailure.get(inputs[i].path) ?? Infinity) < i) {
        state[i] = 'skipped';
        continue;
      }
      return i;
    }
    return null;
  };

  return new Promise<ExplainPoolResult>((resolvePool, rejectPool) => {
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      try {
        flush(true);
      } catch (e) {
        rejectPool(e);
        return;
      }
      if (fatal != null) rejectPool(fatal);
      else resolvePool(result);
    };
    const guarded = (f: () => void): void => {
      try {
        f();
      } catch (e) {
        // onOutcome threw: stop everything and pass the error on.
        if (fatal == null) fatal = e instanceof SaliencyError ? e : new SaliencyError('WORKER_FAILED', e instanceof Error ? e.message : String(e));
        for (const c of children) c.kill('SIGTERM');
      }
    };
    const failFatal = (err: SaliencyError): void => {
      if (fatal != null) return;
      fatal = err;
      for (const c of children) c.kill('SIGTERM');
    };

    let entry: string;
    const spawn = (): void => {
      const child = fork(entry, [], {
        env: workerProcessEnv(),
        // A worker's stdout would interleave with the ordered report: it goes to stderr instead.
        stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      });
      child.stdout?.pipe(process.stderr, { end: false });
      children.add(child);
      alive++;
      const pid = child.pid ?? -1;
      opts.onEvent?.({ type: 'spawn', pid });
      let current: number | null = null;
      let ready = false;
      let stopping = false;
      const send = (m: ToExplainChild): void => {
        if (child.connected) child.send(m);
      };
      const give = (): void => {
        const i = drained() ? null : take();
        if (i == null) {
          if (!stopping) send({ type: 'stop' });
          stopping = true;
          return;
        }
        current = i;
        state[i] = 'running';
        tries.set(i, (tries.get(i) ?? 0) + 1);
        opts.onEvent?.({ type: 'start', pid, index: i });
        const { path, target, region, label, face, className } = inputs[i];
        send({ type: 'input', index: i, input: { path, target, region, label, face, className } });
      };
      child.on('message', (m: FromExplainChild) => guarded(() => {
        if (m.type === 'ready') {
          ready = true;
          startFailures = 0;
        } else if (m.type === 'fatal') {
          failFatal(new SaliencyError(m.error.code ?? 'WORKER_FAILED', `A worker process could not start: ${m.error.message}`));
          return;
        } else if (m.type === 'result' && m.index === current) {
          current = null;
          state[m.index] = 'done';
          outcomes[m.index] = m.outcome;
          noteFailure(m.index);
          flush(false);
        }
        give();
      }));
      child.on('error', () => { /* 'exit' follows */ });
      child.on('exit', (code, signal) => guarded(() => {
        alive--;
        children.delete(child);
        opts.onEvent?.({ type: 'exit', pid, code, signal });
        if (current != null) {
          const i = current;
          current = null;
          const how = `worker process ${pid} exited (${signal ?? `code ${code}`}) while explaining it`;
          if ((tries.get(i) ?? 0) < maxAttempts && !drained()) {
            opts.onEvent?.({ type: 'retry', index: i, reason: how });
            state[i] = 'queued';
            queue.unshift(i);
          } else {
            state[i] = 'done';
            outcomes[i] = { summaries: [], error: { code: 'WORKER_FAILED', message: `${how} (${tries.get(i)} tries)` } };
            noteFailure(i);
          }
        }
        if (!ready && ++startFailures >= 3) {
          failFatal(new SaliencyError('WORKER_FAILED', `Worker processes exit before they are ready (last: ${signal ?? `code ${code}`}); see their messages above.`));
        }
        flush(false);
        if (!drained() && queue.length > 0 && alive < want) spawn();
        else if (alive === 0) finish();
      }));
      send({ type: 'init', settings });
    };

    if (queue.length === 0) {
      finish();
      return;
    }
    try {
      entry = opts.entry ?? explainChildEntry();
    } catch (e) {
      settled = true;
      rejectPool(e);
      return;
    }
    for (let i = 0; i < Math.min(want, queue.length); i++) spawn();
  });
}
