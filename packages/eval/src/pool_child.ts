/**
 * The entry of a local worker process (`child_process.fork`ed by `runLocalPool`): initialises its
 * own backend (one wasm thread), then computes the jobs its parent sends, one at a time, and sends
 * back their records. Ctrl-C reaches the whole process group: the worker ignores it and lets its
 * parent decide (the parent drains: it sends no new job and stops the workers when theirs are done).
 *
 * @packageDocumentation
 */
import { initBackend, type NodeBackend } from '@saliency/node';
import { JobRunner } from './job_runner.js';
import type { FromWorker, ToWorker } from './pool_protocol.js';

const send = (m: FromWorker): void => { process.send?.(m); };

process.on('SIGINT', () => {});
process.on('disconnect', () => process.exit(0));

async function main(): Promise<void> {
  const prefer = process.env.SALIENCY_BACKEND;
  await initBackend({ prefer: prefer === '' || prefer == null ? undefined : prefer as NodeBackend, quiet: true, wasmThreads: false });
  const runner = new JobRunner();
  let chain = Promise.resolve();
  process.on('message', (m: ToWorker) => {
    chain = chain.then(async () => {
      if (m.type === 'stop') {
        await runner.dispose();
        process.disconnect();
        return;
      }
      try {
        send({ type: 'done', key: m.job.key, record: await runner.run(m.job) });
      } catch (e) {
        send({ type: 'error', key: m.job.key, message: e instanceof Error ? `${(e as { code?: string }).code != null ? `[${(e as { code?: string }).code}] ` : ''}${e.message}` : String(e) });
      }
    });
  });
  send({ type: 'ready' });
}

main().catch((e: unknown) => {
  process.stderr.write(`saliency worker process: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
