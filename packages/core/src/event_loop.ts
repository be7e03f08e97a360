/** The host's cheapest way to queue a macrotask, chosen once. */
type Schedule = (resolve: () => void) => void;

const host = globalThis as { setImmediate?: (callback: () => void) => unknown; MessageChannel?: typeof MessageChannel };

function pickSchedule(): Schedule {
  // Node, Bun: the check phase of the next loop iteration; due timers and I/O run first.
  const immediate = host.setImmediate;
  if (typeof immediate === 'function') return (resolve) => immediate(resolve);
  // Browsers, workers, Deno: a message task. Unlike `setTimeout(0)` it is never clamped (browsers
  // clamp nested timeouts to 4 ms) nor throttled in background tabs; the port is closed after use so
  // it keeps nothing alive.
  const Channel = host.MessageChannel;
  if (typeof Channel === 'function') {
    return (resolve) => {
      const channel = new Channel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    };
  }
  return (resolve) => setTimeout(resolve, 0);
}

const schedule = pickSchedule();

/**
 * Resolves on the next macrotask, so that due timers, I/O and UI events run: long methods await it
 * between batches, and an `AbortSignal` fired from a timer or a button is then seen before a later
 * batch, and a page stays responsive. It uses `setImmediate` where the host has it (Node),
 * otherwise a `MessageChannel` message, otherwise `setTimeout(0)`. It does not use `setTimeout(0)`
 * first because that waits at least 1 ms in Node and 4 ms in nested browser timers: a method that
 * yields after each of 40 batches lost 40–160 ms per image to it.
 *
 * @example
 * ```ts
 * for (const batch of batches) { throwIfAborted(signal); run(batch); await yieldToEventLoop(); }
 * ```
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => schedule(resolve));
}
