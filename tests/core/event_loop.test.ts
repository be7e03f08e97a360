// yieldToEventLoop: a real macrotask (not a microtask), after which due timers have run, without
// setTimeout's 1 ms floor (counted here by the event loop's own turns, not by a clock).
import { describe, expect, it } from 'vitest';
import { yieldToEventLoop } from '@saliency/core';

describe('yieldToEventLoop', () => {
  it('resolves after queued macrotasks and microtasks, not before', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('immediate queued before'));
    void Promise.resolve().then(() => order.push('microtask'));
    await yieldToEventLoop();
    order.push('resumed');
    expect(order).toEqual(['microtask', 'immediate queued before', 'resumed']);
  });

  it('lets a timer that is due fire within two yields (an abort from a timer is seen between batches)', async () => {
    let fired = false;
    setTimeout(() => { fired = true; }, 0);
    const t0 = Date.now();
    while (Date.now() - t0 < 5); // the timer is now due
    await yieldToEventLoop();
    await yieldToEventLoop();
    expect(fired).toBe(true);
  });

  it('does not wait for a timer tick: it completes many turns while a chain of 10 setTimeout(0) runs', async () => {
    // With setTimeout(0) each yield is itself one timer tick, so about 10 yields fit in the chain; a
    // check-phase (Node) or message (browser) yield takes one loop turn, so many more fit.
    let ticks = 0;
    const tick = (): void => { if (++ticks < 10) setTimeout(tick, 0); };
    setTimeout(tick, 0);
    let yields = 0;
    while (ticks < 10 && yields < 10_000) {
      await yieldToEventLoop();
      yields++;
    }
    expect(yields).toBeGreaterThan(30);
  });
});
