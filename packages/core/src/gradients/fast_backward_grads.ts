import * as tf from '@tensorflow/tfjs-core';
import { FAST_BACKWARD_KERNELS } from './wasm_backward_kernels.js';

/**
 * Input gradients of `FusedBatchNorm`, `ClipByValue`, `Relu` and `PadV2` that do
 * less work than tfjs-core's (4.22), with identical values:
 *
 * - `FusedBatchNorm`: tfjs computes `x − mean`, `dy · scale` and `rsqrt³` eagerly for
 *   the gradients of mean, variance and scale (which an input gradient never asks
 *   for), and multiplies `dy` by a `Tile` of `rsqrt(variance + ε)` to the full size
 *   of `x` (on wasm, `Tile` alone took 43 % of a MobileNetV2 input gradient). Here
 *   `dx = (dy · rsqrt(variance + ε)) · scale`, broadcast along the channel axis, and
 *   the other gradients are tfjs's own, computed only when asked for.
 * - `ClipByValue` (the layers ReLU6): one pass instead of five kernels.
 * - `Relu`: one pass instead of three (`Step`, `Cast`, `Multiply`) — only while the
 *   registered `Relu` gradient is tfjs's own, the one registered when this module
 *   loaded: a gradient someone else installed (guided backpropagation's) is kept.
 * - `PadV2` (ZeroPadding2D): a slice copied in contiguous runs.
 *
 * The one-pass versions run through the private kernels of
 * {@link FAST_BACKWARD_KERNELS} where the active backend has them (wasm, after
 * `registerFastBackwardKernels`); elsewhere the same values come from tfjs ops.
 *
 * Internal to `@saliency/core`: installed (and removed) by `withFastGradients`.
 * @packageDocumentation
 */

type Saved = tf.Tensor[];
type GradFunc = (dy: tf.Tensor, saved: Saved, attrs: tf.NamedAttrMap) => Record<string, () => tf.Tensor>;

function has(kernel: string): boolean {
  return tf.getKernel(kernel, tf.getBackend()) != null;
}

function run(kernel: string, inputs: Record<string, tf.Tensor>, attrs: tf.NamedAttrMap = {}): tf.Tensor {
  return tf.engine().runKernel(kernel, inputs as unknown as tf.NamedTensorMap, attrs) as tf.Tensor;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

const first = (dy: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(dy) ? dy[0] : dy);

/** Batch-norm input gradient without Tile; the other gradients from `previous` on demand. */
function batchNormGrad(previous: tf.GradConfig): GradFunc {
  return (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    // tfjs's gradient function computes shared terms eagerly; the tape runs each input's
    // thunk in its own tidy, so each asked-for gradient calls it afresh (rarely more than once).
    const other = (name: string) => (): tf.Tensor =>
      (previous.gradFunc(dy, saved, attrs) as Record<string, () => tf.Tensor>)[name]();
    const derX = (): tf.Tensor => {
      const r = tf.rsqrt(tf.add(variance, tf.scalar(eps)));
      const c = x.shape[x.rank - 1];
      const channelVector = (t: tf.Tensor | undefined): boolean => t == null || (t.rank <= 1 && t.size === c && t.dtype === 'float32');
      if (mean.rank === 1 && x.rank >= 1 && dy.dtype === 'float32' && sameShape(dy.shape, x.shape)
        && channelVector(r) && channelVector(scale) && has(FAST_BACKWARD_KERNELS.scaleChannels)) {
        return run(FAST_BACKWARD_KERNELS.scaleChannels, scale == null ? { dy, a: r } : { dy, a: r, b: scale });
      }
      // tfjs: mul(mul(dy, tile(reshape(r, [1,1,1,C]), x.shape[:-1] + [1])), scale) — broadcasting gives the same products.
      return tf.reshape(tf.mul(tf.mul(dy, r), scale ?? tf.scalar(1)), x.shape);
    };
    return { x: derX, mean: other('mean'), variance: other('variance'), scale: other('scale'), offset: other('offset') };
  };
}

/** tfjs's clipByValue gradient, in one pass where the kernel exists. */
const clipByValueGrad: GradFunc = (dy, saved, attrs) => {
  const [x] = saved;
  const { clipValueMin, clipValueMax } = attrs as { clipValueMin: number; clipValueMax: number };
  return {
    x: () => (x.dtype === 'float32' && dy.dtype === 'float32' && sameShape(x.shape, dy.shape) && has(FAST_BACKWARD_KERNELS.clipGrad)
      ? run(FAST_BACKWARD_KERNELS.clipGrad, { x, dy }, { clipValueMin, clipValueMax })
      : tf.where(tf.logicalAnd(tf.greaterEqual(x, clipValueMin), tf.lessEqual(x, clipValueMax)), dy, tf.zerosLike(dy))),
  };
};

/** tfjs's relu gradient (`dy · cast(step(x))`), in one pass where the kernel exists. */
const reluGrad: GradFunc = (dy, saved) => {
  const [x] = saved;
  return {
    x: () => (x.dtype === 'float32' && dy.dtype === 'float32' && sameShape(x.shape, dy.shape) && has(FAST_BACKWARD_KERNELS.reluGrad)
      ? run(FAST_BACKWARD_KERNELS.reluGrad, { x, dy })
      : tf.mul(dy, tf.cast(tf.step(x), 'float32'))),
  };
};

/**
 * tfjs's own `Relu` gradient, as registered when this module was evaluated
 * (`@saliency/core/base` imports `@tensorflow/tfjs-layers`, which registers
 * them, first). Only that one is ever replaced.
 */
const TFJS_RELU_GRADIENT = tf.getGradient('Relu');

/** tfjs's pad gradient (a slice of dy), copied in runs where the kernel exists. */
const padGrad: GradFunc = (dy, saved, attrs) => {
  const [x] = saved;
  const begin = ((attrs as { paddings: Array<[number, number]> }).paddings).map((p) => p[0]);
  return {
    x: () => ((dy.dtype === 'float32' || dy.dtype === 'int32') && has(FAST_BACKWARD_KERNELS.slice)
      ? run(FAST_BACKWARD_KERNELS.slice, { x: dy }, { begin, size: x.shape.slice() })
      : tf.slice(dy, begin, x.shape)),
  };
};

/**
 * Gradient configs replacing tfjs's for `FusedBatchNorm`, `ClipByValue`, `Relu`
 * and `PadV2`, each built from the config it replaces (`previous`, what
 * `tf.getGradient` returned: the same saved inputs, and for batch norm the
 * gradients of its other inputs); null where `previous` must stay. Internal.
 */
export const FAST_GRADIENTS: Readonly<Record<string, (previous: tf.GradConfig) => tf.GradConfig | null>> = {
  FusedBatchNorm: (previous) => ({
    kernelName: 'FusedBatchNorm',
    inputsToSave: previous.inputsToSave ?? ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dy, saved, attrs) => batchNormGrad(previous)(first(dy), saved, attrs),
  }),
  ClipByValue: (previous) => ({
    kernelName: 'ClipByValue',
    inputsToSave: previous.inputsToSave ?? ['x'],
    gradFunc: (dy, saved, attrs) => clipByValueGrad(first(dy), saved, attrs),
  }),
  Relu: (previous) => (previous !== TFJS_RELU_GRADIENT || TFJS_RELU_GRADIENT == null ? null : {
    kernelName: 'Relu',
    inputsToSave: previous.inputsToSave ?? ['x'],
    gradFunc: (dy, saved) => reluGrad(first(dy), saved, {}),
  }),
  PadV2: (previous) => ({
    kernelName: 'PadV2',
    inputsToSave: previous.inputsToSave ?? ['x'],
    gradFunc: (dy, saved, attrs) => padGrad(first(dy), saved, attrs),
  }),
};
