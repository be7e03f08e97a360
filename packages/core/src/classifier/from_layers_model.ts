import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';

type Layer = LayersModel['layers'][number];
import { SaliencyError } from '../errors.js';
import type { Classifier, LayerAccess } from '../types.js';
import { batchNormFolds, type BatchNormFold } from './fold_batch_norm.js';
import { evaluateLayers, singleIO, softmaxActivationOf } from './layers_executor.js';
import { makeClassifier, unknownLayer } from './make_classifier.js';
import { channelReductionOf } from './reduced_head.js';
import type { ClassifierOptions } from './options.js';

function outputOf(layer: Layer): SymbolicTensor | null {
  try {
    const out = layer.output;
    return Array.isArray(out) ? null : out;
  } catch {
    return null; // shared layers have no single output
  }
}

/**
 * The model's batch-norm folds (see {@link batchNormFolds}), or null when it has none.
 * Their weights live as long as the model: `model.dispose()` frees them too.
 */
function foldsOwnedBy(model: LayersModel): ReadonlyMap<Layer, readonly BatchNormFold[]> | null {
  const owned = batchNormFolds(model);
  if (owned.folds.size === 0) return null;
  const dispose = model.dispose.bind(model);
  model.dispose = () => {
    owned.dispose();
    return dispose();
  };
  return owned.folds;
}

/**
 * Wraps a tfjs-layers model (functional or sequential) as a {@link Classifier}.
 * The model runs in inference mode. `at(name)` feeds the named layer's output
 * back into the model's own graph, so skip connections around it stay correct.
 *
 * By default every batch-norm that follows a linear convolution is folded into
 * it for forward passes, with the zero padding before and the ReLU after it where
 * exact (`foldBatchNorm`, see {@link ClassifierOptions}): the classifier keeps two
 * tensors per folded batch-norm, freed by `model.dispose()`.
 *
 * @example
 * ```ts
 * const model = await tf.loadLayersModel('file://model/model.json');
 * const classifier = fromLayersModel(model, { preprocess: { inputRange: [0, 255], modelRange: [0, 1] } });
 * ```
 */
export function fromLayersModel(model: LayersModel, opts: ClassifierOptions = {}): Classifier {
  const { input, output } = singleIO(model);
  const inShape = input.shape;
  const outShape = output.shape;
  if (inShape.length !== 4) {
    throw new SaliencyError('BAD_RANK', `The model's input must be [batch, height, width, channels]; it is [${inShape.join(', ')}].`);
  }
  const lastLayer = output.sourceLayer;
  const strip = (opts.outputs ?? 'auto') === 'auto' && softmaxActivationOf(lastLayer) != null ? lastLayer : null;
  const folds = opts.foldBatchNorm === false ? null : foldsOwnedBy(model);
  const spatial = (): { name: string; out: SymbolicTensor }[] =>
    model.layers
      .map((layer) => ({ name: layer.name, out: outputOf(layer) }))
      .filter((e): e is { name: string; out: SymbolicTensor } => e.out != null && e.out.rank === 4 && e.out !== input);
  const resolve = (name: string): { name: string; out: SymbolicTensor } => {
    const candidates = spatial();
    let chosen: { name: string; out: SymbolicTensor } | undefined;
    if (name === 'auto') {
      // The last layer with a spatial extent: a 1×1 output (global pooling kept 4-D) gives a constant CAM.
      const extent = (c: { out: SymbolicTensor }): number => (c.out.shape[1] ?? 2) * (c.out.shape[2] ?? 2);
      chosen = [...candidates].reverse().find((c) => extent(c) > 1) ?? candidates[candidates.length - 1];
      if (chosen == null) throw new SaliencyError('LAYER_NOT_4D', 'The model has no layer with a 4-D output; Grad-CAM-style methods need one.');
    } else {
      const layer = model.layers.find((l) => l.name === name);
      if (layer == null) unknownLayer(name, candidates.map((c) => c.name));
      const out = outputOf(layer);
      if (out == null || out.rank !== 4) {
        throw new SaliencyError('LAYER_NOT_4D', `Layer '${name}' outputs shape [${out?.shape.join(', ') ?? '?'}], not [N, h, w, k]. Pick one of: ${candidates.map((c) => c.name).join(', ')}.`);
      }
      chosen = { name, out };
    }
    return chosen;
  };
  const at = (name: string): LayerAccess => {
    const chosen = resolve(name);
    const target = chosen.out;
    const split = channelReductionOf(target, input, output);
    const k = target.shape[3] ?? -1;
    return {
      name: chosen.name,
      features: (x) => tf.tidy(() => evaluateLayers([target], new Map([[input.id, x]]), null, folds)[0] as tf.Tensor4D),
      head: (features, x) =>
        tf.tidy(() => evaluateLayers([output], new Map([[input.id, x], [target.id, features]]), strip, folds)[0] as tf.Tensor2D),
      ...(split != null
        ? {
            reduced: {
              reduce: (features: tf.Tensor4D) =>
                tf.tidy(() => tf.reshape(evaluateLayers([split], new Map([[target.id, features]]), null, folds)[0], [features.shape[0], k]) as tf.Tensor2D),
              rest: (r: tf.Tensor2D) =>
                tf.tidy(() => evaluateLayers([output], new Map([[split.id, tf.reshape(r, [r.shape[0], ...split.shape.slice(1).map((d) => d ?? k)])]]), strip, folds)[0] as tf.Tensor2D),
            },
          }
        : {}),
    };
  };
  return makeClassifier(
    {
      inputSize: inShape[1] != null && inShape[2] != null ? [inShape[1], inShape[2]] : null,
      channels: inShape[3] ?? null,
      numClasses: outShape[outShape.length - 1] ?? null,
      outputsAre: 'logits',
      forward: (x) => tf.tidy(() => evaluateLayers([output], new Map([[input.id, x]]), strip, folds)[0] as tf.Tensor2D),
      at,
      layerFeatures: (layers, x) => {
        const targets = layers.map((l) => resolve(l).out);
        return tf.tidy(() => evaluateLayers(targets, new Map([[input.id, x]]), null, folds) as tf.Tensor4D[]);
      },
      layerNames: () => spatial().map((c) => c.name),
    },
    opts,
  );
}
