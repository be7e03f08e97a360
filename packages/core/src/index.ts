/**
 * `@saliency/core` — where an image classifier looks.
 *
 * The one import applications write:
 * ```ts
 * import { explain, gradCam, vanillaGradient, fromLayersModel } from '@saliency/core';
 * ```
 * This facade re-exports the primitives (`@saliency/core/base`) and the methods
 * (`@saliency/methods`) and SESS (`@saliency/sess`); it defines nothing itself, so it has no
 * module cycles.
 *
 * @packageDocumentation
 * @module @saliency/core
 */
export * from '@saliency/core/base';
export * from '@saliency/methods';
export * from '@saliency/sess';
