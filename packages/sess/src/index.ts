/**
 * `@saliency/sess` — SESS (Saliency Enhancing with Scaling and Sliding,
 * Tursun et al. 2022) around any saliency method, batched: `sess(gradCam())`.
 * Applications usually import it through the facade `@saliency/core`.
 *
 * @packageDocumentation
 * @module @saliency/sess
 */
export { sess, type SessMethod } from './sess.js';
export type { SessOptions, SessSize } from './options.js';
export { sessScales, scaledSize, windowStarts, sessPatches, type SessPatch, type SessGeometry } from './geometry.js';
export { prefilterDropCount, prefilterKeep, scorePatches } from './prefilter.js';
export {
  fusionOptions, fusionStart, fusionAdd, fusionResult, fusionDispose, fusePatchMaps,
  type FusionOptions, type FusionState, type SessPool,
} from './fusion.js';
