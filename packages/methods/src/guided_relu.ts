import * as tf from '@tensorflow/tfjs-core';
import { FAST_BACKWARD_KERNELS } from '@saliency/core/base';

/**
 * The kernels whose gradients {@link withGuidedRelu} replaces.
 *
 * Fused kernels need no entry of their own: tfjs-core's `tf.fused.conv2d`,
 * `tf.fused.depthwiseConv2d` and `tf.fused.matMul` (used by layers models and
 * by graph models' `_FusedConv2D` / `FusedDepthwiseConv2dNative` /
 * `_FusedMatMul` nodes) run the fused kernel under a gradient tape only when
 * the activation is linear (`shouldFuse(gradientDepth, activation)` in
 * `ops/fused_util.js`); with a `relu` or `relu6` activation they fall back to
 * the unfused ops, whose activation is a `Relu` or `Relu6` kernel. The layers
 * `relu6` activation is `minimum(6, relu(x))` and the `ReLU` layer with a
 * `maxValue` is `clipByValue(relu(x), 0, max)`: both go through `Relu`.
 */
export const GUIDED_KERNELS = ['Relu', 'Relu6'] as const;

type Saved = tf.Tensor[];

/** Whether the one-pass guided ReLU kernel can take `x` and `dy` on the active backend (wasm with SIMD). */
function oneGuidedPass(x: tf.Tensor, dy: tf.Tensor): boolean {
  return x.dtype === 'float32' && dy.dtype === 'float32' && x.rank === dy.rank && x.shape.every((d, i) => d === dy.shape[i])
    && tf.getKernel(FAST_BACKWARD_KERNELS.guidedReluGrad, tf.getBackend()) != null;
}

/**
 * Guided ReLU backward: dy where dy > 0 and the forward input x > 0, else 0 — `relu(dy) · step(x)`,
 * in one pass where the wasm backend has the kernel (the same values; a dropped `dy = −0` comes
 * out as +0 there).
 */
const guidedRelu: tf.GradConfig = {
  kernelName: 'Relu',
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: Saved) => {
    const [x] = saved;
    const g = Array.isArray(dy) ? dy[0] : dy;
    return {
      x: () => (oneGuidedPass(x, g)
        ? tf.engine().runKernel(FAST_BACKWARD_KERNELS.guidedReluGrad, { x, dy: g } as unknown as tf.NamedTensorMap) as tf.Tensor
        : tf.mul(tf.relu(g), tf.step(x))),
    };
  },
};

/** Guided ReLU6 backward: dy where dy > 0 and 0 < x ≤ 6 (tfjs's own mask for Relu6), else 0. */
const guidedRelu6: tf.GradConfig = {
  kernelName: 'Relu6',
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: Saved) => {
    const [x] = saved;
    const g = Array.isArray(dy) ? dy[0] : dy;
    return { x: () => tf.mul(tf.relu(g), tf.mul(tf.step(x), tf.cast(tf.lessEqual(x, 6), 'float32'))) };
  },
};

const GUIDED: readonly tf.GradConfig[] = [guidedRelu, guidedRelu6];

/**
 * Runs `fn` SYNCHRONOUSLY with guided-backpropagation gradients (Springenberg
 * et al. 2015) for `Relu` and `Relu6`: the backward pass keeps only gradient
 * that is positive where the forward input was positive. The previous gradient
 * registrations (tfjs's own, or whatever was registered) are put back exactly —
 * the same config objects — when `fn` returns or throws. Because the override
 * lives only inside this synchronous call, code running between awaits never
 * sees it.
 *
 * @param fn - synchronous work that computes gradients (for example an
 *   `inputGradient` call). Must not return a promise.
 * @returns what `fn` returns.
 *
 * @example
 * ```ts
 * const g = withGuidedRelu(() => inputGradient((x) => selectTargets(classifier.logits(x), [3]), images));
 * ```
 */
export function withGuidedRelu<T>(fn: () => T): T {
  const previous = GUIDED.map((c) => tf.getGradient(c.kernelName));
  const installed: string[] = [];
  try {
    for (const config of GUIDED) {
      if (tf.getGradient(config.kernelName) != null) tf.unregisterGradient(config.kernelName);
      tf.registerGradient(config);
      installed.push(config.kernelName);
    }
    const out = fn();
    if (out instanceof Promise) {
      throw new Error('@saliency: withGuidedRelu takes a synchronous function; the override must not outlive the call.');
    }
    return out;
  } finally {
    GUIDED.forEach((config, i) => {
      if (installed.includes(config.kernelName) && tf.getGradient(config.kernelName) != null) {
        tf.unregisterGradient(config.kernelName);
      }
      const prev = previous[i];
      if (prev != null && tf.getGradient(config.kernelName) !== prev) tf.registerGradient(prev);
    });
  }
}
