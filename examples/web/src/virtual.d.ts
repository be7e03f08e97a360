declare module 'virtual:saliency-sess' {
  import type { LongRunningOptions, SaliencyMethod } from '@saliency/core/base';
  /** `sess(method, opts)` of `@saliency/sess`, or null when the package is not built yet. */
  export const sess: ((method: SaliencyMethod, opts?: LongRunningOptions & { scales?: number }) => SaliencyMethod) | null;
}
