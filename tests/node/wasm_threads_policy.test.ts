/**
 * How many wasm threads a process runs: the option, then SALIENCY_WASM_THREADS, then one
 * thread in a worker process of a multi-process run, then one per core (at most 8); and
 * initBackend in this vitest process (marked as a worker process by vitest.config.ts)
 * reports one thread and why.
 */
import { describe, expect, it } from 'vitest';
import {
  chooseWasmThreads, initBackend, MAX_WASM_THREADS, WASM_THREADS_ENV, WORKER_PROCESS_ENV, workerProcessEnv,
} from '@saliency/node';

describe('chooseWasmThreads', () => {
  it('defaults to one thread per core, at most 8, and one on a single core', () => {
    expect(chooseWasmThreads(undefined, {}, 2)).toMatchObject({ threads: 2, source: 'cores' });
    expect(chooseWasmThreads(undefined, {}, 6)).toMatchObject({ threads: 6, source: 'cores' });
    expect(chooseWasmThreads(undefined, {}, 64)).toMatchObject({ threads: MAX_WASM_THREADS, source: 'cores' });
    expect(chooseWasmThreads(undefined, {}, 64).reason).toMatch(/8 at most/);
    expect(chooseWasmThreads(undefined, {}, 1)).toMatchObject({ threads: 1, source: 'cores' });
    expect(MAX_WASM_THREADS).toBe(8);
  });

  it('the option wins over everything: true = per core, false = 1, a count as given', () => {
    const env = { [WASM_THREADS_ENV]: '3', [WORKER_PROCESS_ENV]: '1' };
    expect(chooseWasmThreads(true, env, 4)).toMatchObject({ threads: 4, source: 'option' });
    expect(chooseWasmThreads(false, env, 4)).toMatchObject({ threads: 1, source: 'option' });
    expect(chooseWasmThreads(5, env, 2)).toMatchObject({ threads: 5, source: 'option' });
  });

  it('SALIENCY_WASM_THREADS comes next: off/on/a count, and beats the worker-process default', () => {
    for (const v of ['off', 'false', 'OFF', ' no ', '1']) {
      expect(chooseWasmThreads(undefined, { [WASM_THREADS_ENV]: v, [WORKER_PROCESS_ENV]: '1' }, 4)).toMatchObject({ threads: 1, source: 'env' });
    }
    for (const v of ['on', 'true', 'auto']) expect(chooseWasmThreads(undefined, { [WASM_THREADS_ENV]: v }, 4)).toMatchObject({ threads: 4, source: 'env' });
    const three = chooseWasmThreads(undefined, { [WASM_THREADS_ENV]: '3', [WORKER_PROCESS_ENV]: '1' }, 16);
    expect(three).toMatchObject({ threads: 3, source: 'env' });
    expect(three.reason).toContain('SALIENCY_WASM_THREADS=3');
    // empty means unset
    expect(chooseWasmThreads(undefined, { [WASM_THREADS_ENV]: '' }, 4)).toMatchObject({ threads: 4, source: 'cores' });
  });

  it('a worker process of a multi-process run uses one thread (N processes × 1 ≤ cores)', () => {
    const r = chooseWasmThreads(undefined, { [WORKER_PROCESS_ENV]: '1' }, 16);
    expect(r).toMatchObject({ threads: 1, source: 'worker-process' });
    expect(r.reason).toMatch(/multi-process run.*SALIENCY_WASM_THREADS to override/);
    expect(chooseWasmThreads(undefined, { [WORKER_PROCESS_ENV]: '0' }, 16)).toMatchObject({ threads: 8, source: 'cores' });
  });

  it('rejects counts outside 1–8 and unknown words with BAD_OPTION naming the setting', () => {
    for (const bad of [0, 9, 2.5, -1]) {
      expect(() => chooseWasmThreads(bad, {}, 4)).toThrow(expect.objectContaining({ code: 'BAD_OPTION', message: expect.stringContaining('wasmThreads') }));
    }
    for (const bad of ['0', '9', 'many', '2.5', '-2']) {
      expect(() => chooseWasmThreads(undefined, { [WASM_THREADS_ENV]: bad }, 4))
        .toThrow(expect.objectContaining({ code: 'BAD_OPTION', message: expect.stringContaining(WASM_THREADS_ENV) }));
    }
  });
});

describe('workerProcessEnv', () => {
  it('marks the child as a worker process and keeps the rest, SALIENCY_WASM_THREADS included', () => {
    const parent = { PATH: '/bin', [WASM_THREADS_ENV]: '2' };
    const child = workerProcessEnv(parent);
    expect(child).toEqual({ PATH: '/bin', [WASM_THREADS_ENV]: '2', [WORKER_PROCESS_ENV]: '1' });
    expect(parent).toEqual({ PATH: '/bin', [WASM_THREADS_ENV]: '2' });
    expect(chooseWasmThreads(undefined, workerProcessEnv({}), 8)).toMatchObject({ threads: 1, source: 'worker-process' });
    expect(chooseWasmThreads(undefined, child, 8)).toMatchObject({ threads: 2, source: 'env' });
  });
});

describe('initBackend in a vitest worker process', () => {
  it('runs wasm with one thread and says why; a bad SALIENCY_WASM_THREADS is BAD_OPTION before anything loads', async () => {
    expect(process.env[WORKER_PROCESS_ENV]).toBe('1');
    const saved = process.env[WASM_THREADS_ENV];
    try {
      process.env[WASM_THREADS_ENV] = 'lots';
      await expect(initBackend({ prefer: 'wasm', quiet: true })).rejects.toMatchObject({ code: 'BAD_OPTION', message: expect.stringContaining(WASM_THREADS_ENV) });
    } finally {
      if (saved == null) delete process.env[WASM_THREADS_ENV];
      else process.env[WASM_THREADS_ENV] = saved;
    }
    const b = await initBackend({ prefer: 'wasm', quiet: true });
    expect(b.name).toBe('wasm');
    expect(b.wasmThreads).toMatchObject({ enabled: false, threads: 1, code: 'WORKER_PROCESS' });
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    expect(wasm.getThreadsCount()).toBe(1);
  });
});
