import * as tf from '@tensorflow/tfjs-core';
import { FAST_GRADIENTS } from './fast_backward_grads.js';

/**
 * Faster backward passes through tfjs's fused kernels.
 *
 * tfjs-core computes the gradient of `tf.fused.conv2d`, `tf.fused.depthwiseConv2d`
 * and `tf.fused.matMul` (used by layers models for every Conv2D/Dense layer and
 * by graph models for every `_FusedConv2D`/`FusedDepthwiseConv2dNative`/`_FusedMatMul`
 * node) with a custom gradient that computes the gradients of ALL inputs —
 * the filter and the bias included — even when only the input gradient is
 * wanted. The filter gradient is the most expensive kernel of a backward pass
 * on the cpu backend and is missing on the wasm backend.
 *
 * While {@link withFastGradients} runs, the tape uses gradients of the same
 * math that compute each input's gradient only when the tape asks for it. The
 * kernels' attributes (strides, padding, dilations) are captured as the fused
 * kernels run, keyed by their output's data id (and that of its clones).
 *
 * The gradients of `FusedBatchNorm`, `ClipByValue`, `Relu` (tfjs's own only) and `PadV2` are replaced too
 * (same values, less work: see `fast_backward_grads.ts`), and on the wasm backend
 * the tape's copies of saved tensors share their data instead of copying it
 * (tfjs's wasm `Identity` copies; tensors are immutable, so sharing is what the
 * cpu backend does).
 */

type Attrs = Record<string, unknown>;
type GradMap = Record<string, () => tf.Tensor>;

interface EngineLike {
  runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: Attrs): tf.Tensor | tf.Tensor[];
  state: { gradientDepth: number };
}

const CAPTURED_KERNELS = new Set(['FusedConv2D', 'FusedDepthwiseConv2D', '_FusedMatMul']);
/** Names tfjs gives the tape nodes of its fused ops (`op()` scope names). */
const OP_SCOPES = ['fusedConv2d__op', 'fusedDepthwiseConv2d__op', 'fusedMatMul__op'] as const;

const attrsByData = new WeakMap<object, Attrs>();
let depth = 0;

function engine(): EngineLike {
  return tf.engine() as unknown as EngineLike;
}

function attrsOf(y: tf.Tensor, op: string): Attrs {
  const attrs = attrsByData.get(y.dataId as object);
  if (attrs == null) {
    throw new Error(`@saliency: no recorded attributes for ${op}; was the forward pass run inside withFastGradients?`);
  }
  return attrs;
}

function dyThroughActivation(dy: tf.Tensor, y: tf.Tensor, activation: unknown, op: string): tf.Tensor {
  if (activation == null || activation === 'linear') return dy;
  if (activation === 'relu') return tf.mul(dy, tf.step(y));
  throw new Error(`@saliency: gradient of ${op} with activation '${String(activation)}' is not supported`);
}

function biasGrad(bias: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  const axes: number[] = [];
  // Bias broadcasts along the trailing axes; sum every leading axis dy has beyond it.
  const lead = dy.rank - bias.rank;
  for (let i = 0; i < dy.rank; i++) {
    if (i < lead || bias.shape[i - lead] === 1 && dy.shape[i] !== 1) axes.push(i);
  }
  const summed = axes.length > 0 ? tf.sum(dy, axes) : dy;
  return tf.reshape(summed, bias.shape);
}

function convGrad(dy: tf.Tensor, saved: tf.Tensor[]): GradMap {
  const [filter, x, y, bias] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor | undefined];
  const a = attrsOf(y, 'fused conv2d');
  const dil = a.dilations as number | [number, number] | undefined;
  if (dil != null && (Array.isArray(dil) ? dil.some((d) => d !== 1) : dil !== 1)) {
    throw new Error('@saliency: gradients of dilated fused conv2d are not supported by tfjs');
  }
  const g = (): tf.Tensor4D => dyThroughActivation(tf.reshape(dy, y.shape), y, a.activation, 'fused conv2d') as tf.Tensor4D;
  const grads: GradMap = {
    0: () => tf.conv2dTranspose(g(), filter, x.shape, a.strides as [number, number], a.pad as 'same' | 'valid',
      a.dimRoundingMode as 'floor' | undefined),
    1: () => engine().runKernel('Conv2DBackpropFilter', { x, dy: g() }, {
      strides: a.strides, pad: a.pad, dataFormat: 'NHWC', dimRoundingMode: a.dimRoundingMode, filterShape: filter.shape,
    }) as tf.Tensor,
  };
  if (bias != null) grads[2] = () => biasGrad(bias, g());
  return grads;
}

function depthwiseGrad(dy: tf.Tensor, saved: tf.Tensor[]): GradMap {
  const [filter, x, y, bias] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor | undefined];
  const a = attrsOf(y, 'fused depthwiseConv2d');
  const g = (): tf.Tensor4D => dyThroughActivation(tf.reshape(dy, y.shape), y, a.activation, 'fused depthwiseConv2d') as tf.Tensor4D;
  const common = { strides: a.strides, pad: a.pad, dilations: a.dilations, dimRoundingMode: a.dimRoundingMode };
  const grads: GradMap = {
    0: () => engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: g(), filter },
      { ...common, inputShape: x.shape }) as tf.Tensor,
    1: () => engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy: g() },
      { ...common, filterShape: filter.shape }) as tf.Tensor,
  };
  if (bias != null) grads[2] = () => biasGrad(bias, g());
  return grads;
}

function matMulGrad(dy: tf.Tensor, saved: tf.Tensor[]): GradMap {
  const [a3, b3, y, bias] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor | undefined];
  const at = attrsOf(y, 'fused matMul');
  const g = (): tf.Tensor3D => dyThroughActivation(tf.reshape(dy, y.shape), y, at.activation, 'fused matMul') as tf.Tensor3D;
  const tA = at.transposeA === true;
  const tB = at.transposeB === true;
  const grads: GradMap = {
    0: () => (!tA ? tf.matMul(g(), b3, false, !tB) : tB ? tf.matMul(b3, g(), true, true) : tf.matMul(b3, g(), false, true)),
    1: () => (!tB ? tf.matMul(a3, g(), !tA, false) : tA ? tf.matMul(g(), a3, true, true) : tf.matMul(g(), a3, true, false)),
  };
  if (bias != null) grads[2] = () => biasGrad(bias, g());
  return grads;
}

const GRADS: Record<(typeof OP_SCOPES)[number], (dy: tf.Tensor, saved: tf.Tensor[]) => GradMap> = {
  fusedConv2d__op: convGrad,
  fusedDepthwiseConv2d__op: depthwiseGrad,
  fusedMatMul__op: matMulGrad,
};

interface RefCounting {
  incRef(dataId: object): void;
}

/**
 * On wasm, makes `Identity` (what the tape runs to keep the tensors a backward
 * pass needs) share its input's data, as the cpu backend's does, instead of
 * copying it. Returns the undo.
 */
function shareIdentityOnWasm(): () => void {
  const name = tf.getBackend();
  const original = tf.getKernel('Identity', name);
  const backend = tf.backend() as unknown as Partial<RefCounting>;
  if (name !== 'wasm' || original == null || typeof backend.incRef !== 'function') return () => {};
  const share = ({ inputs, backend: b }: { inputs: Record<string, tf.TensorInfo>; backend: unknown }): tf.TensorInfo => {
    const { x } = inputs;
    if (x.dtype === 'string') return (original.kernelFunc as unknown as (a: unknown) => tf.TensorInfo)({ inputs, backend: b, attrs: {} });
    (b as RefCounting).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  tf.unregisterKernel('Identity', name);
  tf.registerKernel({ ...original, kernelFunc: share as unknown as tf.KernelFunc });
  return () => {
    tf.unregisterKernel('Identity', name);
    tf.registerKernel(original);
  };
}

function install(): () => void {
  const eng = engine();
  const own = Object.prototype.hasOwnProperty.call(eng, 'runKernel');
  const original = eng.runKernel;
  eng.runKernel = function runKernelCapturingAttrs(this: EngineLike, name, inputs, attrs) {
    const out = original.call(this, name, inputs, attrs);
    if (this.state.gradientDepth > 0 && !Array.isArray(out)) {
      if (CAPTURED_KERNELS.has(name)) {
        attrsByData.set(out.dataId as object, attrs);
      } else if (name === 'Identity') {
        // The tape saves clones of the kernel's output; backends whose Identity copies the
        // data (wasm) give the clone a new data id, so the attributes follow it.
        const from = attrsByData.get(inputs.x?.dataId as object);
        if (from != null) attrsByData.set(out.dataId as object, from);
      }
    }
    return out;
  };
  const replaced = [...OP_SCOPES, ...Object.keys(FAST_GRADIENTS)];
  const previous = replaced.map((name) => tf.getGradient(name));
  for (const name of OP_SCOPES) {
    tf.registerGradient({
      kernelName: name,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        GRADS[name](Array.isArray(dy) ? dy[0] : dy, saved),
    });
  }
  const swapped = new Set<string>(OP_SCOPES);
  replaced.forEach((name, i) => {
    const prev = previous[i];
    // Only kernels that have a gradient get a faster one (built from it), if it may be replaced.
    const fast = prev != null && name in FAST_GRADIENTS ? FAST_GRADIENTS[name](prev) : null;
    if (fast != null) {
      tf.registerGradient(fast);
      swapped.add(name);
    }
  });
  const unshare = shareIdentityOnWasm();
  return () => {
    unshare();
    if (own) eng.runKernel = original;
    else delete (eng as Partial<EngineLike>).runKernel;
    replaced.forEach((name, i) => {
      if (!swapped.has(name)) return;
      const prev = previous[i];
      if (tf.getGradient(name) != null) tf.unregisterGradient(name);
      if (prev != null) tf.registerGradient(prev);
    });
  };
}

let uninstall: (() => void) | null = null;

/**
 * Runs `fn` (synchronously) with gradients through fused kernels that compute
 * only the input gradients the tape needs. Values are identical to tfjs's own
 * gradients; only work that would be thrown away is skipped. Nests safely and
 * restores tfjs's state even when `fn` throws.
 *
 * @example
 * ```ts
 * const g = withFastGradients(() => tf.grad((x) => model.predict(x).sum())(input));
 * ```
 */
export function withFastGradients<T>(fn: () => T): T {
  if (depth === 0) uninstall = install();
  depth++;
  try {
    return fn();
  } finally {
    depth--;
    if (depth === 0 && uninstall != null) {
      uninstall();
      uninstall = null;
    }
  }
}
