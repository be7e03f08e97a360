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
 * - `INPUT_OUT_OF_RANGE`: image values lie far outside the classifier's input range (see
 *   `INPUT_RANGE_TOLERANCE`), where a model overflows to NaN.
 * - `IMAGE_TOO_SMALL`: an image is smaller than 1 pixel in a dimension.
 * - `BACKEND_UNAVAILABLE`: the requested tfjs backend cannot be loaded here.
 * - `BAD_OPTION`: an option has a value outside its documented range.
 * - `ABORTED`: the caller's `AbortSignal` fired.
 */
export type SaliencyErrorCode =
  | 'BAD_RANK'
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
  | 'ABORTED';

/**
 * The one error class of `@saliency`. Check `err.code` rather than the message.
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
  }
}
