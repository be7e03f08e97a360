import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '../errors.js';
import type { Classifier, LayerAccess } from '../types.js';
import type { ClassifierOptions } from './options.js';
import { inputRangeOf, makePreprocess } from './preprocess.js';

/** What a concrete wrapper supplies; {@link makeClassifier} adds the shared behaviour. */
export interface ClassifierParts {
  inputSize: readonly [number, number] | null;
  channels: number | null;
  numClasses: number | null;
  /** Model outputs for preprocessed input (logits, or probabilities when `outputsAre === 'probabilities'`). */
  forward(x: tf.Tensor4D): tf.Tensor2D;
  outputsAre: 'logits' | 'probabilities';
  at(layer: string): LayerAccess;
  /** Activations of several layers from one forward pass (optional). */
  layerFeatures?(layers: readonly string[], x: tf.Tensor4D): tf.Tensor4D[];
  layerNames(): string[];
}

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new SaliencyError('BAD_OPTION', `${what} must be a positive integer, got ${v}.`);
  return v;
}

/** Shared constructor of {@link Classifier} objects from a wrapper's parts and the user's options. */
export function makeClassifier(parts: ClassifierParts, opts: ClassifierOptions): Classifier {
  const size = opts.inputSize ?? parts.inputSize;
  if (size == null) {
    throw new SaliencyError('BAD_OPTION', 'The model does not declare its input size: pass inputSize: [height, width].');
  }
  const inputSize: readonly [number, number] = [positiveInt(size[0], 'inputSize[0]'), positiveInt(size[1], 'inputSize[1]')];
  const channels = positiveInt(opts.channels ?? parts.channels ?? 3, 'channels');
  const n = opts.numClasses ?? parts.numClasses;
  if (n == null) throw new SaliencyError('BAD_OPTION', 'The model does not declare its number of classes: pass numClasses.');
  const numClasses = positiveInt(n, 'numClasses');
  if (opts.classNames != null && opts.classNames.length !== numClasses) {
    throw new SaliencyError('BAD_OPTION', `classNames has ${opts.classNames.length} entries but the model has ${numClasses} classes.`);
  }
  const preprocess = makePreprocess(opts.preprocess, channels);
  const outputsAre = opts.outputs === 'probabilities' ? 'probabilities' : opts.outputs === 'logits' ? 'logits' : parts.outputsAre;
  // Inside a tidy: the probabilities and the clamp are freed even when the caller is outside one.
  const toLogits = (y: tf.Tensor2D): tf.Tensor2D =>
    outputsAre === 'probabilities' ? tf.tidy(() => tf.log(tf.maximum(y, 1e-30)) as tf.Tensor2D) : y;
  const logitsOfPreprocessed = (x: tf.Tensor4D): tf.Tensor2D => toLogits(parts.forward(x));
  return {
    inputSize,
    channels,
    numClasses,
    classNames: opts.classNames,
    inputRange: inputRangeOf(opts.preprocess),
    preprocess,
    logits: (x) => tf.tidy(() => logitsOfPreprocessed(preprocess(x))),
    probabilities: (x) => tf.tidy(() => tf.softmax(logitsOfPreprocessed(preprocess(x)))),
    at: (layer) => {
      const access = parts.at(layer);
      const { reduced } = access;
      return {
        name: access.name,
        features: access.features,
        head: (f, x) => tf.tidy(() => toLogits(access.head(f, x))),
        ...(reduced != null ? { reduced: { reduce: reduced.reduce, rest: (r: tf.Tensor2D) => tf.tidy(() => toLogits(reduced.rest(r))) } } : {}),
      };
    },
    ...(parts.layerFeatures != null ? { layerFeatures: parts.layerFeatures } : {}),
    layerNames: () => parts.layerNames(),
  };
}

/** Throws `UNKNOWN_LAYER` listing the candidates. */
export function unknownLayer(name: string, candidates: readonly string[]): never {
  const list = candidates.length > 0 ? candidates.join(', ') : '(none)';
  throw new SaliencyError('UNKNOWN_LAYER', `No layer named '${name}'. Layers with 4-D outputs: ${list}.`);
}
