/**
 * Every failure the library reports on purpose, as a machine-readable code.
 *
 * - `BAD_RANK`: a tensor has the wrong number of dimensions.
 * - `BAD_CHANNELS`: an image has a channel count the model cannot take.
 * - `BAD_TARGET`: a class index is out of range, or the target list does not match the batch.
 * - `UNKNOWN_LAYER`: no layer of that name (the message lists the candidates).
 * - `LAYER_NOT_4D`: the chosen layer's output is not `[N, h, w, k]`.
 * - `NO_GRADIENTS`: the method needs gradients the model or backend cannot give.
 * - `NON_FINITE_INPUT`: the input holds NaN or Infinity.
 * - `IMAGE_TOO_SMALL`: an image is smaller than 1 pixel in a dimension.
 * - `BACKEND_UNAVAILABLE`: the requested tfjs backend cannot be loaded here.
 * - `BAD_OPTION`: an option has a value outside its documented range.
 * - `ABORTED`: the caller's `AbortSignal` fired.
 * - `MISSING_PACKAGE`: an optional `@saliency` package (bundled models, the evaluation suite) is
 *   not installed; the message names the package to install.
 * - `QUEUE_UNREACHABLE`: no Redis answers at a `--queue` URL.
 * - `WORKER_FAILED`: worker processes of a local fan-out exit before they can take work.
 */
export type SaliencyErrorCode =
  | 'BAD_RANK'
  | 'BAD_CHANNELS'
  | 'BAD_TARGET'
  | 'UNKNOWN_LAYER'
  | 'LAYER_NOT_4D'
  | 'NO_GRADIENTS'
  | 'NON_FINITE_INPUT'
  | 'IMAGE_TOO_SMALL'
  | 'BACKEND_UNAVAILABLE'
  | 'BAD_OPTION'
  | 'ABORTED'
  | 'MISSING_PACKAGE'
  | 'QUEUE_UNREACHABLE'
  | 'WORKER_FAILED';

/**
 * The brand every {@link SaliencyError} carries. `Symbol.for` gives the same symbol in every copy
 * of this module, so the ESM and the CommonJS builds of `@saliency/core` (loaded side by side by
 * `import` and `require()`) recognise each other's errors.
 */
const SALIENCY_ERROR = Symbol.for('@saliency/core:SaliencyError');

/**
 * The one error class of `@saliency`. Check `err.code` rather than the message.
 *
 * `instanceof SaliencyError` is true for an error thrown by any copy of the library — the ESM
 * build (`import`), the CommonJS build (`require()`) or a second installed copy — because the
 * check looks for a brand registered with `Symbol.for`, not for one class object.
 * {@link isSaliencyError} is the same test as a function.
 *
 * @example
 * ```ts
 * try { await explain(gradCam(), classifier, image); }
 * catch (e) { if (e instanceof SaliencyError && e.code === 'UNKNOWN_LAYER') console.log(e.message); }
 * ```
 */
export class SaliencyError extends Error {
  /** What went wrong, as a stable code. */
  readonly code: SaliencyErrorCode;

  /**
   * @param code - the stable code.
   * @param message - what happened and what to do about it.
   */
  constructor(code: SaliencyErrorCode, message: string) {
    super(message);
    this.name = 'SaliencyError';
    this.code = code;
    Object.defineProperty(this, SALIENCY_ERROR, { value: true });
  }

  /**
   * True for any error made by a `SaliencyError` constructor, whichever copy of `@saliency/core`
   * (ESM, CommonJS, or another install) made it.
   *
   * @param value - anything.
   * @returns whether `value` is a `SaliencyError`.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isSaliencyError(value);
  }
}

/**
 * Whether `value` is a {@link SaliencyError} from any copy of `@saliency/core` — its ESM build,
 * its CommonJS build, or a second install — so a program that mixes `import` and `require()`
 * still recognises the library's errors. Same as `value instanceof SaliencyError`.
 *
 * @example
 * ```ts
 * const { isSaliencyError } = require('@saliency/core');
 * try { await explain(gradCam(), classifier, image); }
 * catch (e) { if (isSaliencyError(e) && e.code === 'ABORTED') return; throw e; }
 * ```
 *
 * @param value - anything, usually a caught error.
 * @returns whether it is a `SaliencyError`.
 */
export function isSaliencyError(value: unknown): value is SaliencyError {
  return typeof value === 'object' && value !== null && (value as { [SALIENCY_ERROR]?: unknown })[SALIENCY_ERROR] === true;
}
