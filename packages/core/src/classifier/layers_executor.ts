import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';

type Layer = LayersModel['layers'][number];
import { SaliencyError } from '../errors.js';

/** A concrete value for a symbolic tensor of a layers model. */
export type Feeds = Map<number, tf.Tensor>;

interface ActivationLike {
  getClassName(): string;
  apply(x: tf.Tensor): tf.Tensor;
}

const LINEAR: ActivationLike = { getClassName: () => 'linear', apply: (x) => x };

/** Layers whose output activation is a softmax (a Dense with `activation: 'softmax'` or an Activation layer). */
export function softmaxActivationOf(layer: Layer): ActivationLike | null {
  const act = (layer as unknown as { activation?: ActivationLike }).activation;
  return act != null && typeof act.getClassName === 'function' && act.getClassName() === 'softmax' ? act : null;
}

type LayerNode = Layer['inboundNodes'][number];

/**
 * How many times each symbolic tensor is read by the layer calls needed to compute
 * `fetches` from `feeds` (keyed by symbolic tensor id).
 */
function consumerCounts(fetches: readonly SymbolicTensor[], feeds: Feeds): Map<number, number> {
  const counts = new Map<number, number>();
  const seen = new Set<LayerNode>();
  const stack = [...fetches];
  while (stack.length > 0) {
    const t = stack.pop() as SymbolicTensor;
    if (feeds.has(t.id)) continue;
    const node = t.sourceLayer.inboundNodes[t.nodeIndex];
    if (node == null || seen.has(node)) continue;
    seen.add(node);
    for (const input of node.inputTensors) {
      counts.set(input.id, (counts.get(input.id) ?? 0) + 1);
      stack.push(input);
    }
  }
  return counts;
}

/**
 * Evaluates symbolic tensors of a layers model from concrete feeds, walking the
 * model's own graph (each layer applied to its recorded inputs with its recorded
 * call arguments, `training: false`). Feeding an intermediate tensor makes
 * everything downstream use it, while branches that skip past it are computed
 * from the other feeds — so skip connections stay correct.
 *
 * Like tfjs-layers' own executor (`model.predict`), each intermediate tensor is
 * disposed as soon as the last layer that reads it has run, so the peak memory is
 * that of `model.predict`, not the sum of every activation (3.3× more on
 * MobileNetV2, and slower on wasm: fresh memory on every layer). Inside `tf.grad`
 * this is safe: the tape keeps its own copies of what the backward pass needs.
 * Feeds and fetches are never disposed here; call inside `tf.tidy`.
 *
 * @param stripSoftmaxOf - a layer whose softmax activation is replaced by the identity (to read logits).
 */
export function evaluateLayers(
  fetches: readonly SymbolicTensor[],
  feeds: Feeds,
  stripSoftmaxOf: Layer | null = null,
): tf.Tensor[] {
  const values = new Map(feeds);
  const remaining = consumerCounts(fetches, feeds);
  const kept = new Set<number>([...feeds.keys(), ...fetches.map((f) => f.id)]);
  /** Disposes the value of `st` once nothing else needs it. */
  const release = (st: SymbolicTensor, liveOutputs: readonly tf.Tensor[]): void => {
    if (kept.has(st.id) || (remaining.get(st.id) ?? 0) > 0 || st.sourceLayer.stateful === true) return;
    const value = values.get(st.id);
    if (value == null || value.isDisposed) return;
    values.delete(st.id);
    // tfjs-layers clones outputs that are inputs, but never free a tensor still held elsewhere.
    for (const v of values.values()) if (v === value) return;
    if (!liveOutputs.includes(value)) value.dispose();
  };
  const run = (target: SymbolicTensor): tf.Tensor => {
    const known = values.get(target.id);
    if (known != null) return known;
    const layer = target.sourceLayer;
    const node = layer.inboundNodes[target.nodeIndex];
    if (node == null || node.inputTensors.length === 0) {
      throw new Error(`@saliency: no value fed for the model input '${target.name}'.`);
    }
    const inputs = node.inputTensors.map(run);
    const kwargs = { ...(node.callArgs ?? {}), training: false };
    let out: tf.Tensor | tf.Tensor[];
    const soft = layer === stripSoftmaxOf ? softmaxActivationOf(layer) : null;
    if (soft != null) {
      const holder = layer as unknown as { activation: ActivationLike };
      holder.activation = LINEAR;
      try {
        out = layer.apply(inputs.length === 1 ? inputs[0] : inputs, kwargs) as tf.Tensor | tf.Tensor[];
      } finally {
        holder.activation = soft;
      }
    } else {
      out = layer.apply(inputs.length === 1 ? inputs[0] : inputs, kwargs) as tf.Tensor | tf.Tensor[];
    }
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((st, i) => values.set(st.id, outs[i]));
    const value = values.get(target.id);
    if (value == null) throw new Error(`@saliency: layer '${layer.name}' did not produce '${target.name}'.`);
    for (const input of node.inputTensors) {
      remaining.set(input.id, (remaining.get(input.id) ?? 0) - 1);
      release(input, outs);
    }
    // Outputs of this call that nothing will read (other outputs of a multi-output layer).
    for (const st of node.outputTensors) if (st.id !== target.id) release(st, [value]);
    return value;
  };
  return fetches.map(run);
}

/** The model's single input and output symbolic tensors (multi-input/-output models are rejected). */
export function singleIO(model: LayersModel): { input: SymbolicTensor; output: SymbolicTensor } {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new SaliencyError('BAD_OPTION', `classifiers need one input and one output; this model has ${model.inputs.length} and ${model.outputs.length}. Wrap it with fromFunction().`);
  }
  return { input: model.inputs[0], output: model.outputs[0] };
}
