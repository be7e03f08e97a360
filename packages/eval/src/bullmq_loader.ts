import { SaliencyError } from '@saliency/core';

/** The command that installs what `--queue` needs. */
export const QUEUE_INSTALL_COMMAND = 'npm install bullmq ioredis';

function missing(e: unknown, name: string): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  return (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND')
    && typeof err?.message === 'string' && err.message.includes(name);
}

/**
 * Checks that the packages `--queue` needs can be imported.
 *
 * @throws SaliencyError `MISSING_PACKAGE` naming the first missing one, with the install command.
 */
export async function requireQueuePackages(names: readonly string[] = ['bullmq', 'ioredis']): Promise<void> {
  for (const name of names) {
    try {
      await import(/* @vite-ignore */ name);
    } catch (e) {
      if (!missing(e, name)) throw e;
      throw new SaliencyError('MISSING_PACKAGE', `--queue needs the optional packages bullmq and ioredis, and ${name} is not installed. Install them next to @saliency/eval: ${QUEUE_INSTALL_COMMAND}`);
    }
  }
}

/**
 * BullMQ, imported only when a run uses `--queue` (it and its Redis client `ioredis` are optional
 * dependencies: a local run needs neither).
 *
 * @throws SaliencyError `MISSING_PACKAGE` with the install command when either is absent.
 */
export async function loadBullmq(): Promise<typeof import('bullmq')> {
  await requireQueuePackages();
  return import('bullmq');
}
