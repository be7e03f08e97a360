import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '../errors.js';
import { withFastGradients } from './fast_fused.js';
import { bridgeMissingKernels, GRADIENT_KERNELS, missingKernels } from './kernel_bridge.js';
import { registerFastBackwardKernels } from './wasm_backward_kernels.js';

interface EngineGradients {
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
  state: { gradientDepth: number; activeTape?: { saved?: tf.Tensor[] }[] | null };
}

/**
 * Frees what a FAILED outermost gradient computation left on tfjs's tape: under a tape tfjs
 * keeps clones of the tensors backward functions need, which `tf.tidy` does not free, and a
 * `gradients()` call that throws part-way never disposes them. Nothing is done inside a nested
 * (higher-order) gradient, whose tape is still in use.
 */
function disposeAbandonedTape(engine: EngineGradients): void {
  const { state } = engine;
  if (state.gradientDepth !== 0 || state.activeTape == null) return;
  for (const node of state.activeTape) for (const t of node.saved ?? []) t.dispose();
  state.activeTape = null;
}

/**
 * Makes sure the active backend can run the backward kernels of conv nets.
 * Kernels it lacks are bridged to the cpu backend when that is registered;
 * otherwise throws `NO_GRADIENTS` before any gradient is attempted (a `tf.grad`
 * that fails part-way leaks its intermediate tensors). On wasm, also registers
 * the faster backward kernels of `registerFastBackwardKernels` (once).
 */
export function ensureGradientKernels(): void {
  const backend = tf.getBackend();
  if (backend === 'wasm') registerFastBackwardKernels('wasm');
  if (missingKernels(backend, GRADIENT_KERNELS).length === 0) return;
  if (backend !== 'cpu' && tf.findBackend('cpu') != null) bridgeMissingKernels(backend, 'cpu');
  const still = missingKernels(backend, GRADIENT_KERNELS);
  if (still.length > 0) {
    throw new SaliencyError('NO_GRADIENTS', `The '${backend}' backend lacks the gradient kernels ${still.join(', ')}. Register the cpu backend (import '@tensorflow/tfjs-backend-cpu') so they can be bridged, or use initBackend() from @saliency/node / @saliency/web.`);
  }
}

/**
 * Gradient of a scalar function with respect to `x`, through the fast path for
 * fused kernels ({@link withFastGradients}). Disposes everything but the result, also
 * when the model throws part-way (tensors tfjs saved on its tape are freed).
 *
 * @example
 * ```ts
 * const g = inputGradient((x) => tf.sum(model.predict(x)), images);
 * ```
 */
export function inputGradient<T extends tf.Tensor>(f: (x: T) => tf.Scalar, x: T): T {
  ensureGradientKernels();
  const engine = tf.engine() as unknown as EngineGradients;
  let grad: tf.Tensor | undefined;
  try {
    // allowNoGradients = true: a model disconnected from its input must not make tfjs throw
    // part-way, which would leak the forward pass's tensors.
    grad = withFastGradients(() => tf.tidy(() => engine.gradients(() => f(x), [x], undefined, true).grads[0]));
  } catch (e) {
    disposeAbandonedTape(engine);
    const msg = (e as Error).message ?? String(e);
    if (/Cannot compute gradient|gradient function not found|not yet supported in gradients|Cannot find registered kernel|not registered for backend/i.test(msg)) {
      throw new SaliencyError('NO_GRADIENTS', `The classifier cannot be differentiated with respect to its input here: ${msg}. Gradient-based methods need a differentiable model; use a perturbation method instead.`);
    }
    throw e;
  }
  if (grad == null) {
    throw new SaliencyError('NO_GRADIENTS', 'The classifier output does not depend on its input through differentiable ops (tf.grad found no path). Gradient-based methods need a differentiable model; use a perturbation method instead.');
  }
  return grad as T;
}

/** What {@link variableGradients} returns. */
export interface VariableGradients {
  /** The value of the function. */
  value: tf.Scalar;
  /** Its gradient with respect to each variable, keyed by the variable's name. */
  grads: tf.NamedTensorMap;
}

/**
 * `tf.variableGrads(f, vars)` (through the fast path for fused kernels) that cleans up when `f`
 * or its backward pass throws: the tensors tfjs kept on its tape and the tape itself are
 * freed, so a failed call leaks nothing and the next gradient does not run under a stale tape.
 * Errors are rethrown as they came.
 *
 * @example
 * ```ts
 * const { value, grads } = variableGradients(() => loss(theta), [theta]);
 * ```
 */
export function variableGradients(f: () => tf.Scalar, vars: tf.Variable[]): VariableGradients {
  const engine = tf.engine() as unknown as EngineGradients;
  try {
    return withFastGradients(() => tf.tidy(() => tf.variableGrads(f, vars)));
  } catch (e) {
    disposeAbandonedTape(engine);
    throw e;
  }
}
