/**
 * Shared inputs and helpers of the kernel tests (backward_kernels, kernel_bridge): seeded
 * values, kernel calls by name, and the data-id count of a backend (what a kernel leaks
 * shows there even when no tf.Tensor is left).
 */
import * as tf from '@tensorflow/tfjs-core';

/** A conv padding as tfjs kernels take it. */
export type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

/** Deterministic values in [-1, 1) (xorshift32). */
export function rand(size: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

/** Elements of a shape. */
export const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** A tensor of {@link rand} values. */
export const T = (shape: number[], seed: number): tf.Tensor => tf.tensor(rand(sizeOf(shape), seed), shape);

/** Runs a kernel by name on the current backend. */
export const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}): tf.Tensor =>
  tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;

/** Data buffers a backend holds. */
export const dataIds = (name: string): number => (tf.findBackend(name) as unknown as { numDataIds(): number }).numDataIds();
