// What the numbers were measured on.
import { cpus, loadavg, totalmem } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';

/** Load average (1, 5, 15 min) as a short string. */
export const load = () => loadavg().map((v) => v.toFixed(2)).join(' / ');

/** Cores, CPU model, memory, load, node and tfjs versions, backend (and wasm SIMD / threads). */
export async function machineInfo(backend) {
  const c = cpus();
  let simd = null;
  let threads = null;
  if (backend === 'wasm') {
    simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  }
  return {
    cores: c.length, cpuModel: c[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30),
    loadStart: load(), loadEnd: null, node: process.version, tfjs: tf.version_core, backend: tf.getBackend(), simd, threads,
    platform: `${process.platform} ${process.arch}`,
  };
}
