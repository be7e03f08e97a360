/**
 * Every failure the library reports on purpose, as a machine-readable code.
 *
 * - `BAD_RANK`: a tensor has the wrong number of dimensions.
 * - `BAD_SIZE`: an image has the wrong height/width for the call (a method given a tensor that
 *   is not at the classifier's input size; use `explain`, which resizes), or a side that is not
 *   a whole number. Earlier versions reported these as `BAD_RANK` and `IMAGE_TOO_SMALL`: see
 *   {@link SaliencyError.formerCode} and {@link SaliencyError.is}.
 * - `BAD_CHANNELS`: an image has a channel count the model cannot take.
 * - `BAD_TARGET`: a class index is out of range, or the target list does not match the batch.
 * - `UNKNOWN_LAYER`: no layer of that name (the message lists the candidates).
 * - `LAYER_NOT_4D`: the chosen layer's output is not `[N, h, w, k]`.
 * - `NO_GRADIENTS`: the method needs gradients the model or backend cannot give.
 * - `NON_FINITE_INPUT`: the input holds NaN or Infinity.
 * - `INPUT_OUT_OF_RANGE`: image values lie far outside the classifier's input range (see
 *   `INPUT_RANGE_TOLERANCE`), where a model overflows to NaN.
 * - `IMAGE_TOO_SMALL`: an image is smaller than 1 pixel in a dimension (empty).
 * - `BACKEND_UNAVAILABLE`: the requested tfjs backend cannot be loaded here.
 * - `BAD_OPTION`: an option has a value outside its documented range.
 * - `ABORTED`: the caller's `AbortSignal` fired.
 * - `MISSING_PACKAGE`: an optional `@saliency` package (bundled models, the evaluation suite) is
 *   not installed; the message names the package to install.
 * - `BAD_MODEL`: a model on disk cannot be loaded (no `model.json`, malformed JSON, unknown
 *   format, a config or labels file that does not fit the model).
 * - `BAD_DATASET`: a dataset on disk cannot be read (missing folder or annotation file, malformed
 *   XML/JSON, a class map that is not a JSON object).
 * - `QUEUE_UNREACHABLE`: no Redis answers at a `--queue` URL.
 * - `WORKER_FAILED`: worker processes of a local fan-out exit before they can take work, or (in
 *   `saliency explain --workers`) a worker died on every try of an image.
 */
export type SaliencyErrorCode =
  | 'BAD_RANK'
  | 'BAD_SIZE'
  | 'BAD_CHANNELS'
  | 'BAD_TARGET'
  | 'UNKNOWN_LAYER'
  | 'LAYER_NOT_4D'
  | 'NO_GRADIENTS'
  | 'NON_FINITE_INPUT'
  | 'INPUT_OUT_OF_RANGE'
  | 'IMAGE_TOO_SMALL'
  | 'BACKEND_UNAVAILABLE'
  | 'BAD_OPTION'
  | 'ABORTED'
  | 'MISSING_PACKAGE'
  | 'BAD_MODEL'
  | 'BAD_DATASET'
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
   * The code this failure had before it was given a more exact one (`BAD_SIZE` was `BAD_RANK`
   * for a wrong-size tensor and `IMAGE_TOO_SMALL` for a non-integer side); `undefined` when the
   * code never changed. Code that checks the old name can use {@link SaliencyError.is}.
   */
  readonly formerCode?: SaliencyErrorCode;

  /**
   * @param code - the stable code.
   * @param message - what happened and what to do about it.
   * @param formerCode - the code this failure was reported with before (kept for old callers).
   */
  constructor(code: SaliencyErrorCode, message: string, formerCode?: SaliencyErrorCode) {
    super(message);
    this.name = 'SaliencyError';
    this.code = code;
    if (formerCode != null) this.formerCode = formerCode;
    Object.defineProperty(this, SALIENCY_ERROR, { value: true });
  }

  /**
   * True when the error has `code`, now or formerly: `e.is('BAD_RANK')` still catches a
   * wrong-size tensor (now `BAD_SIZE`).
   *
   * @example
   * ```ts
   * if (e instanceof SaliencyError && e.is('BAD_SIZE')) resizeFirst();
   * ```
   */
  is(code: SaliencyErrorCode): boolean {
    return this.code === code || this.formerCode === code;
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
