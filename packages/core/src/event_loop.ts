/**
 * Resolves on the next macrotask (`setTimeout(0)`; Node and browsers). Long methods await it
 * between batches so that timers and UI events run — an `AbortSignal` fired from a timer or a
 * button is then seen before the next batch, and a page stays responsive.
 *
 * @example
 * ```ts
 * for (const batch of batches) { throwIfAborted(signal); run(batch); await yieldToEventLoop(); }
 * ```
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
