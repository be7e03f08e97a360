import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '../errors.js';
import type { Classifier, LayerAccess } from '../types.js';
import { makeClassifier, unknownLayer } from './make_classifier.js';
import type { ClassifierOptions } from './options.js';

/** The part of a tfjs-converter `GraphModel` the wrapper uses (structural, so core needs no converter import). */
export interface GraphModelLike {
  /** The graph's inputs (one is required). */
  readonly inputs: readonly {
    /** Input name. */
    name: string;
    /** Declared shape, `-1` for unknown dimensions. */
    shape?: number[];
  }[];
  /** The graph's outputs (one is required). */
  readonly outputs: readonly {
    /** Output name. */
    name: string;
    /** Declared shape, if any. */
    shape?: number[];
  }[];
  /** Names of the input nodes. */
  readonly inputNodes: string[];
  /** Names of the output nodes. */
  readonly outputNodes: string[];
  /** Runs the graph synchronously from the fed nodes to the requested ones. */
  execute(inputs: tf.NamedTensorMap, outputs?: string | string[]): tf.Tensor | tf.Tensor[];
}

interface GraphInternals {
  executor?: { graph?: { nodes?: Record<string, { op?: string }> } };
}

/** Graph ops whose outputs are candidate feature maps for CAM methods. */
const SPATIAL_OPS = new Set([
  'Conv2D', '_FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative', 'Relu', 'Relu6', 'Elu', 'Selu',
  'Add', 'AddV2', 'AddN', 'BiasAdd', 'FusedBatchNorm', 'FusedBatchNormV3', 'MaxPool', 'AvgPool', 'ConcatV2', 'Mul', 'Sigmoid', 'Swish',
]);

function single<T extends tf.Tensor>(r: tf.Tensor | tf.Tensor[]): T {
  return (Array.isArray(r) ? r[0] : r) as T;
}

/**
 * Wraps a tfjs-converter `GraphModel` as a {@link Classifier}. `at(node)` feeds
 * the named node's value back into the graph's own executor (both the image
 * and the node are fed), so skip connections stay correct. `'auto'` picks the
 * last node (in graph order) whose output is 4-D, found with one forward pass
 * on a zero image the first time it is asked. A graph that does not declare its number of
 * classes is run once on a zero image to read it.
 *
 * @example
 * ```ts
 * const model = await tf.loadGraphModel('https://example.com/model.json');
 * const classifier = fromGraphModel(model, { inputSize: [224, 224], preprocess: { modelRange: [0, 1] } });
 * ```
 */
export function fromGraphModel(model: GraphModelLike, opts: ClassifierOptions = {}): Classifier {
  if (model.inputNodes.length !== 1 || model.outputNodes.length !== 1) {
    throw new SaliencyError('BAD_OPTION', `classifiers need one input and one output; this graph has ${model.inputNodes.length} and ${model.outputNodes.length}. Wrap it with fromFunction().`);
  }
  const inputName = model.inputNodes[0];
  const outputName = model.outputNodes[0];
  const inShape = model.inputs[0]?.shape ?? [];
  const outShape = model.outputs[0]?.shape ?? [];
  const nodes = (model as unknown as GraphInternals).executor?.graph?.nodes ?? {};
  const inputSize: [number, number] | null =
    inShape.length === 4 && inShape[1] > 0 && inShape[2] > 0 ? [inShape[1], inShape[2]] : null;
  let spatialCache: string[] | null = null;
  // Nodes whose 4-D output is 1×1 (global pooling): never chosen by 'auto', since their CAM is constant.
  const pointNodes = new Set<string>();
  const forward = (x: tf.Tensor4D): tf.Tensor2D =>
    tf.tidy(() => single<tf.Tensor2D>(model.execute({ [inputName]: x }, outputName)));

  const spatial = (): string[] => {
    if (spatialCache != null) return spatialCache;
    const names = Object.keys(nodes).filter((n) => SPATIAL_OPS.has(nodes[n].op ?? '') && n !== inputName);
    const size = opts.inputSize ?? inputSize;
    if (size == null || names.length === 0) return (spatialCache = []);
    const ch = opts.channels ?? inShape[3] ?? 3;
    spatialCache = tf.tidy(() => {
      const outs = model.execute({ [inputName]: tf.zeros([1, size[0], size[1], ch]) }, names);
      const arr = Array.isArray(outs) ? outs : [outs];
      names.forEach((n, i) => { if (arr[i].rank === 4 && (arr[i].shape[1] ?? 0) * (arr[i].shape[2] ?? 0) === 1) pointNodes.add(n); });
      return names.filter((_, i) => arr[i].rank === 4);
    });
    return spatialCache;
  };

  const at = (name: string): LayerAccess => {
    let node = name;
    if (name === 'auto') {
      const list = spatial();
      const last = [...list].reverse().find((n) => !pointNodes.has(n)) ?? list[list.length - 1];
      if (last == null) throw new SaliencyError('LAYER_NOT_4D', 'No node of this graph has a 4-D output; pass a node name to at().');
      node = last;
    } else if (nodes[name] == null && Object.keys(nodes).length > 0) {
      unknownLayer(name, spatial());
    }
    return {
      name: node,
      features: (x) => tf.tidy(() => {
        const f = single<tf.Tensor4D>(model.execute({ [inputName]: x }, node));
        if (f.rank !== 4) {
          throw new SaliencyError('LAYER_NOT_4D', `Node '${node}' outputs rank ${f.rank}, not [N, h, w, k]. Pick one of: ${spatial().join(', ')}.`);
        }
        return f;
      }),
      head: (features, x) =>
        tf.tidy(() => single<tf.Tensor2D>(model.execute({ [inputName]: x, [node]: features }, outputName))),
    };
  };

  let numClasses: number | null = outShape.length === 2 && outShape[1] > 0 ? outShape[1] : null;
  const size = opts.inputSize ?? inputSize;
  if (numClasses == null && opts.numClasses == null && size != null) {
    // The graph does not declare its output width: read it off one forward pass on a zero image.
    const ch = opts.channels ?? (inShape[3] > 0 ? inShape[3] : 3);
    const probe = tf.tidy(() => forward(tf.zeros([1, size[0], size[1], ch])));
    numClasses = probe.shape[1];
    probe.dispose();
  }
  return makeClassifier(
    {
      inputSize,
      channels: inShape.length === 4 && inShape[3] > 0 ? inShape[3] : null,
      numClasses,
      outputsAre: 'logits',
      forward,
      at,
      layerFeatures: (layers, x) => {
        const names = layers.map((l) => at(l).name);
        return tf.tidy(() => {
          const outs = model.execute({ [inputName]: x }, names);
          const arr = Array.isArray(outs) ? outs : [outs];
          arr.forEach((f, i) => {
            if (f.rank !== 4) throw new SaliencyError('LAYER_NOT_4D', `Node '${names[i]}' outputs rank ${f.rank}, not [N, h, w, k]. Pick one of: ${spatial().join(', ')}.`);
          });
          return arr as tf.Tensor4D[];
        });
      },
      layerNames: spatial,
    },
    opts,
  );
}
