import { SaliencyError } from '@saliency/core/base';

/** The optional `@saliency` packages some CLI commands load on use. */
type OptionalPackage = '@saliency/models' | '@saliency/eval';

/** Whether `err` says that `name` itself (not something it imports) could not be found. */
function isMissing(err: unknown, name: string): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = e?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')
    && typeof e?.message === 'string' && (e.message.includes(`'${name}'`) || e.message.includes(`"${name}"`));
}

async function load<T>(name: OptionalPackage, importer: () => Promise<T>, what: string): Promise<T> {
  try {
    return await importer();
  } catch (err) {
    if (!isMissing(err, name)) throw err;
    throw new SaliencyError('MISSING_PACKAGE', `${what} needs ${name}, which is not installed. Install it next to @saliency/node: npm install ${name}`);
  }
}

/**
 * `@saliency/models` (the bundled face-expression and MobileNetV2 classifiers, sample faces),
 * loaded on first use so that `@saliency/node` does not carry its weights. Internal.
 *
 * @param what - the command that needs it, for the error message.
 */
export function loadModelsPackage(what: string): Promise<typeof import('@saliency/models')> {
  return load('@saliency/models', () => import('@saliency/models'), what);
}

/**
 * `@saliency/eval` (the evaluation suite, generated data and masker training), loaded on
 * first use. Internal.
 *
 * @param what - the command that needs it, for the error message.
 */
export function loadEvalPackage(what: string): Promise<typeof import('@saliency/eval')> {
  return load('@saliency/eval', () => import('@saliency/eval'), what);
}
