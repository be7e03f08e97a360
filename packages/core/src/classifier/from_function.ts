import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '../errors.js';
import type { Classifier, LayerAccess, ReducedHead } from '../types.js';
import { makeClassifier, unknownLayer } from './make_classifier.js';
import type { ClassifierOptions } from './options.js';

/** White-box access a function classifier may offer, keyed by layer name. */
export interface FunctionLayer {
  /** Activations `[N, h, w, k]` for preprocessed input. */
  features(x: tf.Tensor4D): tf.Tensor4D;
  /** Model outputs from those activations (and the preprocessed input, for skip connections). */
  head(features: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor2D;
  /**
   * Optional: the head split after a per-channel reduction over space, when it is exact (see
   * {@link LayerAccess.reduced}: `head(f, x)` must equal `rest(reduce(f))` for every `f`, and
   * zeroing a channel of `f` must zero that column of `reduce(f)`). Ablation-CAM then scores its
   * ablated channels on `[n, k]` rows.
   */
  reduced?: ReducedHead;
}

/** A user's {@link ReducedHead}, checked: `reduce` must give `[N, k]`. */
function reducedOf(key: string, given: ReducedHead): ReducedHead {
  return {
    reduce: (f) => tf.tidy(() => {
      const r = given.reduce(f);
      if (r.rank !== 2 || r.shape[0] !== f.shape[0] || r.shape[1] !== f.shape[3]) {
        throw new SaliencyError('BAD_RANK', `Layer '${key}': reduced.reduce must return [N, k] = [${f.shape[0]}, ${f.shape[3]}]; it returned [${r.shape.join(', ')}].`);
      }
      return r;
    }),
    rest: (r) => tf.tidy(() => given.rest(r)),
  };
}

/** Options of {@link fromFunction}: input size and class count are required. */
export interface FunctionClassifierOptions extends ClassifierOptions {
  inputSize: readonly [number, number];
  numClasses: number;
  /** Named layers for CAM methods; the last one is `'auto'`. */
  layers?: Readonly<Record<string, FunctionLayer>>;
}

/**
 * Wraps any differentiable function of preprocessed images `[N, H, W, C]` →
 * outputs `[N, numClasses]` (logits by default) as a {@link Classifier}.
 *
 * @example
 * ```ts
 * const W = tf.randomNormal([28 * 28, 10]);
 * const classifier = fromFunction((x) => tf.matMul(tf.reshape(x, [-1, 784]), W), {
 *   inputSize: [28, 28], channels: 1, numClasses: 10, preprocess: { inputRange: [0, 1] },
 * });
 * ```
 */
export function fromFunction(fn: (x: tf.Tensor4D) => tf.Tensor2D, opts: FunctionClassifierOptions): Classifier {
  const layers = opts.layers ?? {};
  const names = Object.keys(layers);
  const at = (name: string): LayerAccess => {
    const key = name === 'auto' ? names[names.length - 1] : name;
    if (key == null) {
      throw new SaliencyError('LAYER_NOT_4D', 'This function classifier exposes no layers: pass `layers` to fromFunction() to use CAM methods.');
    }
    const layer = layers[key];
    if (layer == null) unknownLayer(name, names);
    return {
      name: key,
      features: (x) => tf.tidy(() => {
        const f = layer.features(x);
        if (f.rank !== 4) throw new SaliencyError('LAYER_NOT_4D', `Layer '${key}' returned rank ${f.rank}, not [N, h, w, k].`);
        return f;
      }),
      head: (f, x) => tf.tidy(() => layer.head(f, x)),
      ...(layer.reduced != null ? { reduced: reducedOf(key, layer.reduced) } : {}),
    };
  };
  return makeClassifier(
    {
      inputSize: opts.inputSize,
      channels: opts.channels ?? 3,
      numClasses: opts.numClasses,
      outputsAre: 'logits',
      forward: (x) => tf.tidy(() => {
        const y = fn(x);
        if (y.rank !== 2) throw new SaliencyError('BAD_RANK', `The classifier function must return [N, numClasses]; it returned rank ${y.rank}.`);
        return y;
      }),
      at,
      layerNames: () => [...names],
    },
    opts,
  );
}
