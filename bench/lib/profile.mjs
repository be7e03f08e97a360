// Per-kernel time and peak tensor memory of one call, through tf.profile (tfjs has no other peak API).
import * as tf from '@tensorflow/tfjs-core';
import { aggregateKernels } from './stats.mjs';

/**
 * Runs `run()` (→ Promise of a tensor, disposed here) once under tf.profile. Returns the wall time,
 * the per-kernel aggregate (`aggregateKernels`), and the peak of tf.memory().numBytes during the
 * call, absolute and above the bytes held at the start. Kernel timing adds a little overhead.
 */
export async function profileRun(run, top = 8) {
  const startBytes = tf.memory().numBytes;
  const t0 = performance.now();
  let out = null;
  const info = await tf.profile(async () => {
    out = await run();
    await out.data();
    return null;
  });
  const wallMs = performance.now() - t0;
  out?.dispose();
  const agg = aggregateKernels(info.kernels, top);
  const peakBytes = info.kernels.length > 0 ? info.peakBytes : startBytes;
  return { wallMs, ...agg, peakBytes, peakAddedBytes: peakBytes - startBytes };
}
