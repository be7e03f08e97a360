/** A backend an `initBackend()` (of `@saliency/node` or `@saliency/web`) tried and did not use. */
export interface SkippedBackendOf<B extends string = string> {
  /** The backend, e.g. `'tensorflow-gpu'` or `'webgpu'`. */
  backend: B;
  /** The npm package that provides it, e.g. `'@tensorflow/tfjs-node-gpu'`. */
  package: string;
  /**
   * Why it was skipped: `not installed (…)`, `failed to load: <first line of the error>`,
   * `loaded, but tf.setBackend('…') failed…`, or a platform reason such as
   * `navigator.gpu is not available (…)`.
   */
  reason: string;
}

/** What an `initBackend()` chose, and why; shared by `@saliency/node` and `@saliency/web`. */
export interface BackendChoiceOf<B extends string = string> {
  /** The active tfjs backend name (`tf.getBackend()`). */
  name: string;
  /** The npm package that provided it. */
  via: string;
  /** The backends tried before it, with the reason each was skipped (none with `prefer`). */
  skipped: SkippedBackendOf<B>[];
  /**
   * Gradient kernels the backend lacked and that were registered for it (see
   * `bridgeMissingKernels`): on wasm, Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter,
   * DepthwiseConv2dNativeBackpropInput and UnsortedSegmentSum, built from wasm's own kernels.
   * Empty when none were missing or an earlier call already registered them.
   */
  bridgedKernels: string[];
}
