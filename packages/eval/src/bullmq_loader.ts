import { SaliencyError } from '@saliency/core';

/** The command that installs what `--queue` needs. */
export const QUEUE_INSTALL_COMMAND = 'npm install bullmq ioredis';

function missing(e: unknown, name: string): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  return (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND')
    && typeof err?.message === 'string' && err.message.includes(name);
}

/**
 * BullMQ, imported only when a run uses `--queue` (it and its Redis client `ioredis` are optional
 * dependencies: a local run needs neither).
 *
 * @throws SaliencyError `MISSING_PACKAGE` with the install command when either is absent.
 */
export async function loadBullmq(): Promise<typeof import('bullmq')> {
  for (const name of ['bullmq', 'ioredis']) {
    try {
      await import(/* @vite-ignore */ name);
    } catch (e) {
      if (!missing(e, name)) throw e;
      throw new SaliencyError('MISSING_PACKAGE', `--queue needs the optional packages bullmq and ioredis, and ${name} is not installed. Install them next to @saliency/eval: ${QUEUE_INSTALL_COMMAND}`);
    }
  }
  return import('bullmq');
}
