import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { readersOf } from './layers_executor.js';

type Layer = LayersModel['layers'][number];

/** Activations that map 0 to 0 (applied elementwise, so per channel). */
const ZERO_PRESERVING_ACTIVATIONS = new Set(['relu', 'relu6', 'linear', 'elu', 'selu', 'tanh', 'softsign']);

/** Layers that pool each channel over space alone (a zero channel stays zero). */
const POOLING = new Set(['AveragePooling2D', 'MaxPooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D']);

/** Identity at inference. */
const INFERENCE_IDENTITY = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

function config(layer: Layer): Record<string, unknown> {
  return layer.getConfig() as Record<string, unknown>;
}

/**
 * Whether `layer`, applied to a channels-last `input`, acts on each channel alone and maps an
 * all-zero channel to zero, keeping the channels on the last axis.
 */
function perChannelZeroPreserving(layer: Layer, input: SymbolicTensor): boolean {
  const kind = layer.getClassName();
  const cfg = config(layer);
  if (cfg.dataFormat === 'channelsFirst') return false;
  if (POOLING.has(kind) || INFERENCE_IDENTITY.has(kind)) return true;
  if (kind === 'ReLU') return cfg.threshold == null || cfg.threshold === 0;
  if (kind === 'Activation') return ZERO_PRESERVING_ACTIVATIONS.has(String(cfg.activation));
  // Flatten keeps channels on the last axis only when nothing else is left.
  if (kind === 'Flatten') return input.shape.slice(1, -1).every((d) => d === 1);
  return false;
}

/** `[N, k]` or `[N, 1, …, 1, k]`: reduced over space with `k` channels. */
function isReduced(t: SymbolicTensor, k: number): boolean {
  return t.shape.length >= 2 && t.shape[t.shape.length - 1] === k && t.shape.slice(1, -1).every((d) => d === 1);
}

/** Whether `output` can be computed from `from` without reading `input`. */
function onlyThrough(output: SymbolicTensor, from: SymbolicTensor, input: SymbolicTensor): boolean {
  const seen = new Set<number>();
  const reaches = (t: SymbolicTensor): boolean => {
    if (t.id === from.id || seen.has(t.id)) return false;
    if (t.id === input.id) return true;
    seen.add(t.id);
    const node = t.sourceLayer.inboundNodes[t.nodeIndex];
    return node != null && node.inputTensors.some(reaches);
  };
  return !reaches(output);
}

/**
 * Where the head of a layer's output `target` can be split for channel ablation: the last tensor
 * of the chain of layers after `target` that each read one tensor only they read, act on each
 * channel alone and keep a zero channel at zero (pooling, ReLU, dropout, flatten of 1×1), and
 * that is reduced over space (`[N, k]` or `[N, 1, 1, k]`), when the output depends on the input
 * only through it. Null when there is no such tensor: callers then use the whole head.
 */
export function channelReductionOf(target: SymbolicTensor, input: SymbolicTensor, output: SymbolicTensor): SymbolicTensor | null {
  const k = target.shape[target.shape.length - 1];
  if (k == null || target.id === output.id) return null;
  const readers = readersOf([output]);
  let current = target;
  let found: SymbolicTensor | null = null;
  for (;;) {
    const nodes = readers.get(current.id) ?? [];
    if (nodes.length !== 1) break;
    const node = nodes[0];
    if (node.inputTensors.length !== 1 || node.outputTensors.length !== 1) break;
    const next = node.outputTensors[0];
    if (next.id === output.id || !perChannelZeroPreserving(node.outboundLayer as Layer, current)) break;
    current = next;
    if (isReduced(current, k)) found = current;
  }
  return found != null && onlyThrough(output, found, input) ? found : null;
}
