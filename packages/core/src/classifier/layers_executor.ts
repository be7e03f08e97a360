import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';

type Layer = LayersModel['layers'][number];
import { SaliencyError } from '../errors.js';
import type { BatchNormFold } from './fold_batch_norm.js';

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

/**
 * Evaluates symbolic tensors of a layers model from concrete feeds, walking the
 * model's own graph (each layer applied to its recorded inputs with its recorded
 * call arguments, `training: false`). Feeding an intermediate tensor makes
 * everything downstream use it, while branches that skip past it are computed
 * from the other feeds — so skip connections stay correct.
 *
 * Call inside `tf.tidy`; intermediate tensors are not disposed here.
 *
 * @param stripSoftmaxOf - a layer whose softmax activation is replaced by the identity (to read logits).
 * @param folds - layers computed from an earlier tensor in one fused kernel (see `batchNormFolds`):
 *   the first of a layer's folds that applies is used, one applying unless a tensor it skips is fed
 *   or already computed, or it is for untaped passes and a gradient tape is recording.
 */
export function evaluateLayers(
  fetches: readonly SymbolicTensor[],
  feeds: Feeds,
  stripSoftmaxOf: Layer | null = null,
  folds: ReadonlyMap<Layer, readonly BatchNormFold[]> | null = null,
): tf.Tensor[] {
  const values = new Map(feeds);
  const taped = underTape();
  const release = taped ? null : releaser(fetches, feeds, values);
  const run = (target: SymbolicTensor): tf.Tensor => {
    const known = values.get(target.id);
    if (known != null) return known;
    const layer = target.sourceLayer;
    const node = layer.inboundNodes[target.nodeIndex];
    if (node == null || node.inputTensors.length === 0) {
      throw new Error(`@saliency: no value fed for the model input '${target.name}'.`);
    }
    const fold = folds?.get(layer)?.find((f) => !(taped && f.untapedOnly) && !f.through.some((t) => values.has(t.id)));
    if (fold != null) {
      const folded = fold.apply(run(fold.input));
      node.outputTensors.forEach((st) => values.set(st.id, folded));
      release?.([fold.input, ...node.inputTensors]);
      return folded;
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
    release?.(node.inputTensors);
    const value = values.get(target.id);
    if (value == null) throw new Error(`@saliency: layer '${layer.name}' did not produce '${target.name}'.`);
    return value;
  };
  return fetches.map(run);
}

/** A node of a layers model's graph (one application of a layer). */
type GraphNode = Layer['inboundNodes'][number];

/**
 * The nodes that read each symbolic tensor (by id), among the nodes that `fetches` depend on; a
 * node that reads a tensor twice is listed twice.
 */
export function readersOf(fetches: readonly SymbolicTensor[]): Map<number, GraphNode[]> {
  const readers = new Map<number, GraphNode[]>();
  const seen = new Set<GraphNode>();
  const visit = (t: SymbolicTensor): void => {
    const node = t.sourceLayer.inboundNodes[t.nodeIndex];
    if (node == null || seen.has(node)) return;
    seen.add(node);
    for (const i of node.inputTensors) {
      const list = readers.get(i.id);
      if (list == null) readers.set(i.id, [node]);
      else list.push(node);
      visit(i);
    }
  };
  fetches.forEach(visit);
  return readers;
}

/** Whether a gradient tape is recording (tfjs's engine state). */
function underTape(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}

/**
 * For use outside a gradient tape (which needs every intermediate): a function that frees each
 * intermediate value after its last consumer (fed and fetched values are kept).
 * A consumer is any inbound node of any layer that reads the tensor; nodes that are never
 * evaluated keep their inputs alive until the caller's `tf.tidy` ends, as before.
 */
function releaser(fetches: readonly SymbolicTensor[], feeds: Feeds, values: Map<number, tf.Tensor>): (used: readonly SymbolicTensor[]) => void {
  const keep = new Set<number>([...feeds.keys(), ...fetches.map((f) => f.id)]);
  const remaining = new Map<number, number>([...readersOf(fetches)].map(([id, nodes]) => [id, nodes.length]));
  const freed = new Set<unknown>();
  return (used) => {
    for (const t of used) {
      const left = (remaining.get(t.id) ?? 1) - 1;
      remaining.set(t.id, left);
      if (left > 0 || keep.has(t.id)) continue;
      const v = values.get(t.id);
      if (v == null || freed.has(v)) continue;
      // A layer may return its input itself (e.g. inference-mode Dropout): free only unshared values.
      let shared = false;
      for (const [id, other] of values) if (other === v && id !== t.id && (keep.has(id) || (remaining.get(id) ?? 0) > 0)) shared = true;
      if (shared) continue;
      freed.add(v);
      v.dispose();
    }
  };
}

/** The model's single input and output symbolic tensors (multi-input/-output models are rejected). */
export function singleIO(model: LayersModel): { input: SymbolicTensor; output: SymbolicTensor } {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new SaliencyError('BAD_OPTION', `classifiers need one input and one output; this model has ${model.inputs.length} and ${model.outputs.length}. Wrap it with fromFunction().`);
  }
  return { input: model.inputs[0], output: model.outputs[0] };
}
