/**
 * Backend-agnostic tensor ops of `@saliency/core`: synchronous, `tf.tidy`-wrapped,
 * no data read back to JS, inputs validated with `SaliencyError`.
 * @module
 */
export { minMaxNormalize, type MinMaxNormalizeOptions } from './min_max_normalize.js';
export { resizeBilinear, resizeMaps, type ResizeOptions } from './resize_bilinear.js';
export { gaussianKernel1d } from './gaussian_kernel.js';
export { reflectPad } from './reflect_pad.js';
export { gaussianBlur, blurMaps, type GaussianBlurOptions } from './gaussian_blur.js';
export { composite, type Background } from './composite.js';
export { totalVariation, type TotalVariationOptions } from './total_variation.js';
export { colorize, colormapTable, COLORMAP_NAMES, type ColormapName } from './colormap.js';
export { overlay, type OverlayOptions } from './overlay.js';
