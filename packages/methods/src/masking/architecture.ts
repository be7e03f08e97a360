/**
 * The real-time masking model of Dabkowski & Gal (2017): encoder = the
 * classifier's own feature maps (frozen), a class selector that gates the
 * coarsest features, and a U-Net-like decoder of sub-pixel up-sampler blocks
 * that ends in the two-channel mask head `|a| / (|a| + |b|)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkPositiveInt, SaliencyError, type Classifier } from '@saliency/core/base';
import { BATCH_NORM_EPSILON, batchNorm, conv2dSame, pixelShuffle2, type BatchNormParams, type BatchStats } from './layers.js';
import { checkSeed, hashSeed, randomSeed } from './random.js';
import { resizeMasks, resizeTables, type ResizeTables } from './upsample.js';

/** The up-samplers' convolutions: full 3×3 (`'conv'`) or depthwise 3×3 + pointwise 1×1 (`'separable'`). */
export type MaskingUpsampler = 'conv' | 'separable';

/**
 * How the finest up-sampler block ends: with its follow-up 3×3 convolution over the up-sampled
 * features and the finest encoder layer (`'follow'`, the reference's), or (`'lateral'`) without it:
 * the head reads the up-sampled features and, through its own 1×1 kernel, the finest encoder layer
 * (a linear lateral connection, as in feature pyramid networks).
 */
export type MaskingFinestBlock = 'follow' | 'lateral';

/** Options of {@link createMaskingModel}. */
export interface MaskingModelOptions {
  /**
   * Layers of the classifier whose activations the decoder reads (names from
   * `classifier.layerNames()`), FINEST FIRST and COARSEST LAST, each of lower
   * resolution than the one before it (ideally half: one up-sampler block ×2
   * bridges each step). The selector gates the last one; the mask comes out at
   * the resolution of the first one and is up-sampled bilinearly to the input size.
   */
  encoderLayers: readonly string[];
  /**
   * Size of the class embedding e_c. Default: the channel count of the coarsest
   * layer (the reference code's `nn.Embedding(num_classes, 2048)` on ResNet-50's
   * last block); another size adds a 1×1 projection of the coarsest features.
   */
  embeddingSize?: number;
  /**
   * Output channels of the up-sampler blocks, from the coarsest block to the
   * finest: one number for all, or one per block (`encoderLayers.length − 1`).
   * Default 64 (the reference code's `upsampler_base`).
   */
  upsamplerChannels?: number | readonly number[];
  /**
   * The up-samplers' 3×3 convolutions: `'conv'` (default, the reference's: full 3×3
   * convolutions) or `'separable'`: each split into a depthwise 3×3 and a pointwise 1×1
   * convolution, about 1/9 of the arithmetic and weights for the same channel counts —
   * a decoder cheaper than the classifier's backward pass (see the masking guide).
   */
  upsampler?: MaskingUpsampler;
  /**
   * `'follow'` (default): every up-sampler block ends with its follow-up convolution → batch norm →
   * ReLU over `[up, skip]`. `'lateral'`: the finest block does not; the 1×1 head reads its
   * up-sampled features plus a 1×1 projection of the finest encoder layer. The follow-up convolution
   * of the finest block runs at the mask's resolution and is the decoder's costliest step (on the
   * digit CNN, more than half of the decoder's time): `'lateral'` makes the masker faster than
   * Grad-CAM (see the masking guide). Needs at least two encoder layers.
   */
  finestBlock?: MaskingFinestBlock;
  /** Subtracted from ⟨features, e_c⟩ before the selector's sigmoid (reference `model_confidence`, default 0). */
  confidence?: number;
  /** ε in `|a| / (|a| + |b| + ε)` (default 0.001, the reference `IterativeSaliency`'s). */
  maskEpsilon?: number;
  /** Seed of the initial weights (default: random). Same seed → same initial model. */
  seed?: number;
}

/** The resolved, serialisable configuration of a {@link MaskingModel}. */
export interface MaskingModelConfig {
  /** See {@link MaskingModelOptions.encoderLayers}. */
  encoderLayers: string[];
  /** `[h, w, k]` of each encoder layer's activations, in the same order. */
  featureShapes: [number, number, number][];
  /** See {@link MaskingModelOptions.embeddingSize}. */
  embeddingSize: number;
  /** Channels of each up-sampler block, coarsest block first. */
  upsamplerChannels: number[];
  /** See {@link MaskingModelOptions.upsampler}; absent (models saved before it existed) = `'conv'`. */
  upsampler?: MaskingUpsampler;
  /** See {@link MaskingModelOptions.finestBlock}; absent (models saved before it existed) = `'follow'`. */
  finestBlock?: MaskingFinestBlock;
  /** See {@link MaskingModelOptions.confidence}. */
  confidence: number;
  /** See {@link MaskingModelOptions.maskEpsilon}. */
  maskEpsilon: number;
  /** The seed the weights were initialised with. */
  seed: number;
  /** The classifier's input size `[H, W]`. */
  inputSize: [number, number];
  /** The classifier's input channels. */
  channels: number;
  /** The classifier's number of classes. */
  numClasses: number;
}

/**
 * A masking model bound to its classifier: `masks(images, classes)` is one
 * forward pass. Create with {@link createMaskingModel}, train with
 * `trainMaskingModel`, explain with `maskingModel(model)`; dispose when done.
 */
export interface MaskingModel {
  /** The classifier whose feature maps are the encoder (never trained). */
  readonly classifier: Classifier;
  /** The architecture. */
  readonly config: Readonly<MaskingModelConfig>;
  /** Resolution `[h, w]` of the mask before the bilinear up-sampling to the input size. */
  readonly maskSize: readonly [number, number];
  /** Every weight by its short name (`'selector/embedding'`, `'up0/conv'`, …), running batch-norm statistics included. */
  readonly weights: ReadonlyMap<string, tf.Variable>;
  /** The weights gradients train (everything but the running batch-norm statistics). */
  readonly trainableWeights: readonly tf.Variable[];
  /** Training steps taken so far (restored from a checkpoint or a saved model). */
  steps: number;
  /**
   * Masks `[N, H, W]` in [0, 1] for images `[N, H, W, C]` (the classifier's input size
   * and pixel range) and one class per image, in inference mode. Synchronous, one
   * forward pass; the caller disposes the result.
   */
  masks(images: tf.Tensor4D, classes: readonly number[]): tf.Tensor3D;
  /** Frees the weights. */
  dispose(): void;
}

/** What the decoder computes for a batch (before the up-sampling to the input size). */
export interface MaskingForward {
  /** `[N, h, w]` masks at the decoder's resolution. */
  small: tf.Tensor3D;
  /** `[N]` spatial mean of ⟨features, e_c⟩: the selector's "class present" logit. */
  exists: tf.Tensor1D;
}

/** Internal state of a model: its parts, the tables of its up-sampling. */
export interface MaskingModelInternals extends MaskingModel {
  /** Runs the selector and decoder on encoder features. */
  forward(features: readonly tf.Tensor4D[], classes: tf.Tensor1D, training: boolean, collect?: (s: BatchStats) => void): MaskingForward;
  /** Encoder features (frozen) for user-range images. */
  features(images: tf.Tensor4D): tf.Tensor4D[];
  /** Up-samples `[N, h, w]` decoder masks to the input size. */
  upsample(small: tf.Tensor3D): tf.Tensor3D;
  /**
   * Masks for each image's TOP class, that class read from the encoder's own forward pass (the
   * coarsest encoder layer through `classifier.at(layer).head`, argmax): no separate classifier
   * pass, no read-back. Returns the masks and the `[N]` int32 classes (the caller disposes both).
   */
  masksForTop(images: tf.Tensor4D): { masks: tf.Tensor3D; classes: tf.Tensor1D };
}

let instances = 0;

function he(shape: number[], fanIn: number, seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed);
}

/** Checks the options against the classifier and resolves the configuration (one probe forward pass). */
function resolveConfig(classifier: Classifier, opts: MaskingModelOptions): MaskingModelConfig {
  const layers = opts?.encoderLayers;
  if (!Array.isArray(layers) || layers.length < 1 || !layers.every((l) => typeof l === 'string')) {
    throw new SaliencyError('BAD_OPTION', `createMaskingModel: encoderLayers must be a non-empty list of layer names, finest first; candidates: ${classifier.layerNames().join(', ')}.`);
  }
  if (classifier.numClasses < 2) {
    throw new SaliencyError('BAD_OPTION', 'createMaskingModel: the classifier must have at least 2 classes (fake labels need a wrong class).');
  }
  const [H, W] = classifier.inputSize;
  const shapes = tf.tidy(() => {
    const probe = classifier.preprocess(tf.zeros([1, H, W, classifier.channels]) as tf.Tensor4D);
    return layers.map((name) => {
      const f = classifier.at(name).features(probe);
      return [f.shape[1], f.shape[2], f.shape[3]] as [number, number, number];
    });
  });
  for (let i = 1; i < shapes.length; i++) {
    if (!(shapes[i][0] < shapes[i - 1][0] || shapes[i][1] < shapes[i - 1][1])) {
      throw new SaliencyError('BAD_OPTION', `createMaskingModel: encoderLayers must go from fine to coarse; '${layers[i]}' (${shapes[i][0]}×${shapes[i][1]}) is not coarser than '${layers[i - 1]}' (${shapes[i - 1][0]}×${shapes[i - 1][1]}).`);
    }
  }
  const coarse = shapes[shapes.length - 1];
  const embeddingSize = checkPositiveInt(opts.embeddingSize ?? coarse[2], 'createMaskingModel: embeddingSize');
  const blocks = layers.length - 1;
  const ch = opts.upsamplerChannels ?? 64;
  const upsamplerChannels = typeof ch === 'number' ? new Array<number>(blocks).fill(ch) : [...ch];
  if (upsamplerChannels.length !== blocks) {
    throw new SaliencyError('BAD_OPTION', `createMaskingModel: upsamplerChannels has ${upsamplerChannels.length} entries; ${layers.length} encoder layers need ${blocks} (one per up-sampler block).`);
  }
  upsamplerChannels.forEach((c) => checkPositiveInt(c, 'createMaskingModel: upsamplerChannels'));
  const upsampler = opts.upsampler ?? 'conv';
  if (upsampler !== 'conv' && upsampler !== 'separable') {
    throw new SaliencyError('BAD_OPTION', `createMaskingModel: upsampler must be 'conv' or 'separable', got '${String(upsampler)}'.`);
  }
  const finestBlock = opts.finestBlock ?? 'follow';
  if (finestBlock !== 'follow' && finestBlock !== 'lateral') {
    throw new SaliencyError('BAD_OPTION', `createMaskingModel: finestBlock must be 'follow' or 'lateral', got '${String(finestBlock)}'.`);
  }
  if (finestBlock === 'lateral' && blocks === 0) {
    throw new SaliencyError('BAD_OPTION', "createMaskingModel: finestBlock 'lateral' needs at least two encoder layers (an up-sampler block and a finer layer for the head to read).");
  }
  const confidence = opts.confidence ?? 0;
  const maskEpsilon = opts.maskEpsilon ?? 0.001;
  if (!Number.isFinite(confidence)) throw new SaliencyError('BAD_OPTION', `createMaskingModel: confidence must be finite, got ${confidence}.`);
  if (!(maskEpsilon > 0 && Number.isFinite(maskEpsilon))) throw new SaliencyError('BAD_OPTION', `createMaskingModel: maskEpsilon must be > 0, got ${maskEpsilon}.`);
  return {
    encoderLayers: [...layers],
    featureShapes: shapes,
    embeddingSize,
    upsamplerChannels,
    upsampler,
    ...(finestBlock === 'lateral' ? { finestBlock } : {}),
    confidence,
    maskEpsilon,
    seed: opts.seed == null ? randomSeed() : checkSeed(opts.seed, 'createMaskingModel'),
    inputSize: [H, W],
    channels: classifier.channels,
    numClasses: classifier.numClasses,
  };
}

/** Initial values of every weight, by short name, for a configuration. */
function initialWeights(c: MaskingModelConfig): Map<string, { value: tf.Tensor; trainable: boolean }> {
  const out = new Map<string, { value: tf.Tensor; trainable: boolean }>();
  let n = 0;
  const seed = (): number => hashSeed(c.seed, n++);
  const coarse = c.featureShapes[c.featureShapes.length - 1];
  const e = c.embeddingSize;
  // Reference: Embedding weights ~ N(0, 1/√s).
  out.set('selector/embedding', { value: tf.randomNormal([c.numClasses, e], 0, 1 / Math.sqrt(e), 'float32', seed()), trainable: true });
  if (e !== coarse[2]) out.set('selector/projection', { value: he([1, 1, coarse[2], e], coarse[2], seed()), trainable: true });
  const bn = (prefix: string, k: number): void => {
    out.set(`${prefix}/gamma`, { value: tf.ones([k]), trainable: true });
    out.set(`${prefix}/beta`, { value: tf.zeros([k]), trainable: true });
    out.set(`${prefix}/mean`, { value: tf.zeros([k]), trainable: false });
    out.set(`${prefix}/variance`, { value: tf.ones([k]), trainable: false });
  };
  // A 3×3 convolution cin → cout: one full kernel, or a depthwise 3×3 (`<name>_depthwise`) and a pointwise 1×1.
  const conv3 = (name: string, cin: number, cout: number): void => {
    if (c.upsampler !== 'separable') {
      out.set(name, { value: he([3, 3, cin, cout], 9 * cin, seed()), trainable: true });
      return;
    }
    out.set(`${name}_depthwise`, { value: he([3, 3, cin, 1], 9, seed()), trainable: true });
    out.set(name, { value: he([1, 1, cin, cout], cin, seed()), trainable: true });
  };
  let cin = coarse[2];
  const lateral = c.finestBlock === 'lateral';
  c.upsamplerChannels.forEach((cout, j) => {
    const skip = c.featureShapes[c.featureShapes.length - 2 - j][2];
    conv3(`up${j}/conv`, cin, 4 * cout);
    bn(`up${j}/bn_up`, 4 * cout);
    if (!(lateral && j === c.upsamplerChannels.length - 1)) {
      conv3(`up${j}/follow`, cout + skip, cout);
      bn(`up${j}/bn_follow`, cout);
    }
    cin = cout;
  });
  // 'lateral': the head reads [up, skip] of the finest block, as one 1×1 kernel would read their concatenation.
  const finest = c.featureShapes[0][2];
  out.set('head/kernel', { value: he([1, 1, cin, 2], lateral ? cin + finest : cin, seed()), trainable: true });
  if (lateral) out.set('head/skip_kernel', { value: he([1, 1, finest, 2], cin + finest, seed()), trainable: true });
  out.set('head/bias', { value: tf.zeros([2]), trainable: true });
  return out;
}

/** Resizes `[N, h, w, k]` features to `[N, H, W, k]` through {@link resizeMasks} (differentiable). */
function resizeFeatures(x: tf.Tensor4D, tables: ResizeTables): tf.Tensor4D {
  const [n, h, w, k] = x.shape;
  const H = tables.ry.shape[0];
  const W = tables.rx.shape[0];
  const flat = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n * k, h, w]) as tf.Tensor3D;
  return tf.transpose(tf.reshape(resizeMasks(flat, tables), [n, k, H, W]), [0, 2, 3, 1]) as tf.Tensor4D;
}

/**
 * Builds a model from a configuration, optionally with given weight values
 * (by short name; used by loading and checkpoints).
 */
export function buildMaskingModel(classifier: Classifier, config: MaskingModelConfig, values?: ReadonlyMap<string, tf.Tensor>): MaskingModelInternals {
  const id = instances++;
  const init = initialWeights(config);
  const weights = new Map<string, tf.Variable>();
  const trainable: tf.Variable[] = [];
  try {
    for (const [name, { value, trainable: t }] of init) {
      const given = values?.get(name);
      if (values != null && given == null) {
        throw new SaliencyError('BAD_OPTION', `The saved masking model lacks the weight '${name}'; it was saved by another version or for another architecture.`);
      }
      if (given != null && !tf.util.arraysEqual(given.shape, value.shape)) {
        throw new SaliencyError('BAD_OPTION', `The saved weight '${name}' has shape [${given.shape.join(', ')}]; the architecture needs [${value.shape.join(', ')}].`);
      }
      const v = tf.variable(given ?? value, t, `saliency_masking_${id}/${name}`);
      weights.set(name, v);
      if (t) trainable.push(v);
    }
  } catch (e) {
    for (const v of weights.values()) v.dispose();
    throw e;
  } finally {
    for (const { value } of init.values()) value.dispose();
  }
  const w = (name: string): tf.Variable => weights.get(name) as tf.Variable;
  const bnParams = (prefix: string): BatchNormParams => ({
    gamma: w(`${prefix}/gamma`), beta: w(`${prefix}/beta`), mean: w(`${prefix}/mean`), variance: w(`${prefix}/variance`),
  });
  const shapes = config.featureShapes;
  const L = shapes.length;
  const maskSize: [number, number] = [shapes[0][0], shapes[0][1]];
  // Resize tables: the mask to the input size, and any up-sampled flow whose 2× size misses its skip's.
  const toInput = resizeTables(maskSize, config.inputSize);
  const bridges: (ResizeTables | null)[] = config.upsamplerChannels.map((_, j) => {
    const from = shapes[L - 1 - j];
    const to = shapes[L - 2 - j];
    return 2 * from[0] === to[0] && 2 * from[1] === to[1] ? null : resizeTables([2 * from[0], 2 * from[1]], [to[0], to[1]]);
  });
  const layerAccess = config.encoderLayers.map((name) => classifier.at(name));
  const layerNames = layerAccess.map((a) => a.name);
  const separable = config.upsampler === 'separable';
  const lateral = config.finestBlock === 'lateral';
  /** Blocks that end with a follow-up convolution: all, or all but the finest ('lateral'). */
  const followed = config.upsamplerChannels.map((_, j) => !(lateral && j === config.upsamplerChannels.length - 1));
  /** The decoder's 3×3 'same' convolution named `name` (training path: differentiable, explicit batch-norm after it). */
  const conv3 = (x: tf.Tensor4D, name: string): tf.Tensor4D =>
    separable
      ? conv2dSame(tf.depthwiseConv2d(x, w(`${name}_depthwise`) as tf.Tensor4D, 1, 'same'), w(name) as tf.Tensor4D)
      : conv2dSame(x, w(name) as tf.Tensor4D);
  /**
   * Inference weights, computed once and kept until one of their source weights changes (a
   * training step, a checkpoint restore, any `assign`: each replaces the variable's data, so the
   * sources' data ids are the cache key). The kept tensors belong to the model (`dispose()` frees
   * them); recomputing disposes the old ones first, so the tensor count stays the same.
   * - Each conv → batch-norm (running statistics) pair folded into ONE fused convolution's filter and bias.
   * - Each follow-up convolution, which reads `concat([up, skip])`, split on its input channels into
   *   the part that reads `up` and the part that reads `skip` (depthwise kernel too): a convolution of
   *   a concatenation is the sum of the parts' convolutions, and the sum is cheaper than the copy
   *   (the wasm concat of the 48² features cost more than the decoder's convolutions around it).
   * - The mask `|a| / (|a| + |b| + ε)` from the head's two channels without a strided slice: two
   *   2 → 1 convolutions of `|ab|` give the numerator (kernel [1, 0]) and the denominator (kernel
   *   [1, 1], bias ε). The head's own kernels are used as they are.
   */
  const foldSpecs = config.upsamplerChannels.flatMap((_, j) => [
    { conv: `up${j}/conv`, bn: `up${j}/bn_up` }, ...(followed[j] ? [{ conv: `up${j}/follow`, bn: `up${j}/bn_follow` }] : []),
  ]);
  const foldSources = (): object[] => foldSpecs.flatMap(({ conv, bn }) => {
    const p = bnParams(bn);
    return [w(conv), p.gamma, p.beta, p.mean, p.variance, ...(separable ? [w(`${conv}_depthwise`)] : [])].map((v) => v.dataId);
  });
  /** A follow-up convolution split on its input channels (`up` first, then `skip`). */
  interface SplitConv { depthwise: [tf.Tensor4D, tf.Tensor4D] | null; filter: [tf.Tensor4D, tf.Tensor4D]; bias: tf.Tensor1D }
  interface InferenceWeights {
    up: { depthwise: tf.Tensor4D | null; filter: tf.Tensor4D; bias: tf.Tensor1D }[];
    /** One per block that has a follow-up convolution ({@link followed}). */
    follow: SplitConv[];
    /** `[1, 1, 2, 1]` kernels [1, 0] and [1, 1] and the `[1]` bias ε of the mask's ratio. */
    ratio: { pick: tf.Tensor4D; sum: tf.Tensor4D; epsilon: tf.Tensor1D };
  }
  const inferenceTensors = (iw: InferenceWeights): tf.Tensor[] => [
    ...iw.up.flatMap((u) => [u.filter, u.bias]),
    ...iw.follow.flatMap((f) => [...(f.depthwise ?? []), ...f.filter, f.bias]),
    iw.ratio.pick, iw.ratio.sum, iw.ratio.epsilon,
  ];
  let folded: InferenceWeights | null = null;
  let foldedFrom: object[] = [];
  const inferenceWeights = (): InferenceWeights => {
    const now = foldSources();
    if (folded != null && now.every((d, i) => d === foldedFrom[i])) return folded;
    const next = tf.tidy(() => {
      const fold = (conv: string, bn: string): { filter: tf.Tensor4D; bias: tf.Tensor1D } => {
        const p = bnParams(bn);
        const scale = tf.mul(tf.rsqrt(tf.add(p.variance, BATCH_NORM_EPSILON)), p.gamma);
        return { filter: tf.mul(w(conv), scale) as tf.Tensor4D, bias: tf.sub(p.beta, tf.mul(p.mean, scale)) as tf.Tensor1D };
      };
      const splitIn = (k: tf.Tensor4D, at: number): [tf.Tensor4D, tf.Tensor4D] => {
        const [kh, kw, cin, cout] = k.shape;
        return [tf.slice(k, [0, 0, 0, 0], [kh, kw, at, cout]), tf.slice(k, [0, 0, at, 0], [kh, kw, cin - at, cout])];
      };
      return {
        up: config.upsamplerChannels.map((_, j) => ({
          depthwise: separable ? w(`up${j}/conv_depthwise`) as tf.Tensor4D : null, ...fold(`up${j}/conv`, `up${j}/bn_up`),
        })),
        follow: config.upsamplerChannels.filter((_, j) => followed[j]).map((cout, j) => {
          const f = fold(`up${j}/follow`, `up${j}/bn_follow`);
          return {
            depthwise: separable ? splitIn(w(`up${j}/follow_depthwise`) as tf.Tensor4D, cout) : null,
            filter: splitIn(f.filter, cout), bias: f.bias,
          };
        }),
        ratio: {
          pick: tf.tensor4d([1, 0], [1, 1, 2, 1]), sum: tf.tensor4d([1, 1], [1, 1, 2, 1]), epsilon: tf.tensor1d([config.maskEpsilon]),
        },
      } satisfies InferenceWeights as unknown as tf.TensorContainer;
    }) as unknown as InferenceWeights;
    // The up-samplers' depthwise kernels are the variables themselves: keep and free only what was computed here.
    inferenceTensors(next).forEach((t) => tf.keep(t));
    if (folded != null) tf.dispose(inferenceTensors(folded));
    folded = next;
    foldedFrom = now;
    return folded;
  };
  /** A 'same' convolution, separable (depthwise kernel given) or full, with optional bias and ReLU fused. */
  const conv = (x: tf.Tensor4D, depthwise: tf.Tensor4D | null, filter: tf.Tensor4D, bias?: tf.Tensor1D, relu = false): tf.Tensor4D => {
    const input = depthwise != null ? tf.depthwiseConv2d(x, depthwise, 1, 'same') : x;
    return tf.fused.conv2d({ x: input, filter, strides: 1, pad: 'same', bias, activation: relu ? 'relu' : 'linear' });
  };
  const [inH, inW] = config.inputSize;
  /**
   * The inference decoder for encoder features and `[N]` int32 classes: the training path's
   * values with fewer, fused operations (dispatch dominates on wasm at batch 1): the embedding
   * row gathered (not one-hot × matrix), ⟨features, e_c⟩ as one batched matMul, folded
   * batch-norms, each follow-up convolution as the sum of its `up` and `skip` parts (no concat),
   * the mask's ratio as two tiny convolutions (no slice), the final up-sampling one bilinear resize
   * (the training path's matMul resize gives the same values; it exists only for its gradient on cpu).
   */
  const infer = (features: readonly tf.Tensor4D[], classes: tf.Tensor1D): tf.Tensor3D => {
    const iw = inferenceWeights();
    const coarse = features[L - 1];
    const proj = weights.has('selector/projection') ? conv2dSame(coarse, w('selector/projection') as tf.Tensor4D) : coarse;
    const [n, h, wd, e] = proj.shape;
    const emb = tf.gather(w('selector/embedding'), classes); // [N, e]
    const act = tf.reshape(tf.matMul(tf.reshape(proj, [n, h * wd, e]), tf.reshape(emb, [n, e, 1])), [n, h, wd, 1]);
    let flow = tf.mul(coarse, tf.sigmoid(config.confidence !== 0 ? tf.sub(act, config.confidence) : act)) as tf.Tensor4D;
    config.upsamplerChannels.forEach((_, j) => {
      // conv + folded batch-norm + ReLU fused (ReLU commutes with the pixel shuffle).
      let up = pixelShuffle2(conv(flow, iw.up[j].depthwise, iw.up[j].filter, iw.up[j].bias, true));
      const bridge = bridges[j];
      if (bridge != null) up = resizeFeatures(up, bridge);
      if (!followed[j]) {
        flow = up;
        return;
      }
      const f = iw.follow[j];
      flow = tf.relu(tf.add(
        conv(up, f.depthwise?.[0] ?? null, f.filter[0]),
        conv(features[L - 2 - j], f.depthwise?.[1] ?? null, f.filter[1], f.bias),
      )) as tf.Tensor4D;
    });
    const head = w('head/kernel') as tf.Tensor4D;
    const bias = w('head/bias') as tf.Tensor1D;
    const ab = lateral
      ? tf.add(conv(flow, null, head), conv(features[0], null, w('head/skip_kernel') as tf.Tensor4D, bias)) as tf.Tensor4D
      : conv(flow, null, head, bias);
    const s = tf.abs(ab);
    const small = tf.div(conv(s, null, iw.ratio.pick), conv(s, null, iw.ratio.sum, iw.ratio.epsilon)) as tf.Tensor4D;
    return tf.reshape(tf.image.resizeBilinear(small, [inH, inW], false, true), [n, inH, inW]) as tf.Tensor3D;
  };
  const coarsest = layerAccess[L - 1];

  const model: MaskingModelInternals = {
    classifier,
    config,
    maskSize,
    weights,
    trainableWeights: trainable,
    steps: 0,
    features(images: tf.Tensor4D): tf.Tensor4D[] {
      return tf.tidy(() => {
        const x = classifier.preprocess(images);
        // One forward pass for all encoder layers where the classifier offers it.
        return classifier.layerFeatures != null ? classifier.layerFeatures(layerNames, x) : layerAccess.map((a) => a.features(x));
      });
    },
    forward(features, classes, training, collect) {
      return tf.tidy(() => {
        const coarse = features[L - 1];
        const proj = weights.has('selector/projection') ? conv2dSame(coarse, w('selector/projection') as tf.Tensor4D) : coarse;
        const onehot = tf.oneHot(tf.cast(classes, 'int32'), config.numClasses);
        const emb = tf.reshape(tf.matMul(tf.cast(onehot, 'float32'), w('selector/embedding')), [-1, 1, 1, config.embeddingSize]);
        const act = tf.sum(tf.mul(proj, emb), -1, true); // [N, h, w, 1]
        const exists = tf.mean(act, [1, 2, 3]) as tf.Tensor1D;
        let flow = tf.mul(coarse, tf.sigmoid(tf.sub(act, config.confidence))) as tf.Tensor4D;
        config.upsamplerChannels.forEach((_, j) => {
          let up = tf.relu(pixelShuffle2(batchNorm(conv3(flow, `up${j}/conv`), bnParams(`up${j}/bn_up`), training, collect)));
          const bridge = bridges[j];
          if (bridge != null) up = resizeFeatures(up, bridge);
          if (!followed[j]) {
            flow = up;
            return;
          }
          const joined = tf.concat([up, features[L - 2 - j]], 3) as tf.Tensor4D;
          flow = tf.relu(batchNorm(conv3(joined, `up${j}/follow`), bnParams(`up${j}/bn_follow`), training, collect));
        });
        const head = tf.add(conv2dSame(flow, w('head/kernel') as tf.Tensor4D), w('head/bias')) as tf.Tensor4D;
        // 'lateral': the head also reads the finest encoder layer through its own 1×1 kernel.
        const ab = lateral ? tf.add(head, conv2dSame(features[0], w('head/skip_kernel') as tf.Tensor4D)) as tf.Tensor4D : head;
        const [n, h, wd] = ab.shape;
        const a = tf.abs(tf.reshape(tf.slice(ab, [0, 0, 0, 0], [n, h, wd, 1]), [n, h, wd]));
        const b = tf.abs(tf.reshape(tf.slice(ab, [0, 0, 0, 1], [n, h, wd, 1]), [n, h, wd]));
        const small = tf.div(a, tf.add(tf.add(a, b), config.maskEpsilon)) as tf.Tensor3D;
        return { small, exists };
      });
    },
    upsample(small: tf.Tensor3D): tf.Tensor3D {
      return resizeMasks(small, toInput);
    },
    masks(images: tf.Tensor4D, classes: readonly number[]): tf.Tensor3D {
      return tf.tidy(() => infer(model.features(images), tf.tensor1d(classes as number[], 'int32')));
    },
    masksForTop(images: tf.Tensor4D): { masks: tf.Tensor3D; classes: tf.Tensor1D } {
      return tf.tidy(() => {
        const x = classifier.preprocess(images);
        const feats = classifier.layerFeatures != null ? classifier.layerFeatures(layerNames, x) : layerAccess.map((a) => a.features(x));
        const classes = tf.argMax(coarsest.head(feats[L - 1], x), 1) as tf.Tensor1D;
        return { masks: infer(feats, classes), classes };
      });
    },
    dispose(): void {
      for (const v of weights.values()) v.dispose();
      if (folded != null) tf.dispose(inferenceTensors(folded));
      folded = null;
      tf.dispose([toInput.rx, toInput.ry]);
      for (const b of bridges) if (b != null) tf.dispose([b.rx, b.ry]);
    },
  };
  inferenceWeights(); // the model owns its folded inference weights from the start (no first-call growth of the tensor count)
  return model;
}

/**
 * Creates an untrained real-time masking model (Dabkowski & Gal 2017) for a classifier.
 *
 * - Encoder: the classifier's own activations at `encoderLayers`
 *   (`classifier.at(name).features(classifier.preprocess(x))`), frozen: no
 *   gradient ever updates the classifier.
 * - Selector: a class embedding e_c (`numClasses × embeddingSize`, initialised
 *   N(0, 1/√size) as the reference); gate = sigmoid(⟨features, e_c⟩ − confidence)
 *   at every position of the coarsest features, which it multiplies. The spatial
 *   mean of ⟨features, e_c⟩ is the "class present" logit trained by the
 *   reference code's `exists` loss.
 * - Decoder: one up-sampler block per step from coarse to fine: 3×3 conv (no
 *   bias) → batch norm → pixel shuffle ×2 → ReLU, concatenated with the encoder's
 *   skip activations, then a 3×3 conv → batch norm → ReLU (the reference's
 *   follow-up block, here without the bottleneck's residual). With `finestBlock:
 *   'lateral'` the finest block stops after its ReLU and the head also reads the finest
 *   encoder layer through a 1×1 kernel of its own. A 1×1 conv gives two channels a, b; mask = |a| / (|a| + |b| + ε); bilinear up-sampling (half-pixel
 *   centres) to the input size.
 * - Weights: He-normal convolutions, seeded.
 *
 * @param classifier - the classifier to explain (its layers are the encoder).
 * @param opts - see {@link MaskingModelOptions}.
 * @returns a model that owns tf.Variables: call `dispose()` when done.
 * @throws SaliencyError `BAD_OPTION`, `UNKNOWN_LAYER`, `LAYER_NOT_4D`.
 *
 * @example
 * ```ts
 * const model = createMaskingModel(classifier, { encoderLayers: ['block1', 'block2', 'block3'], seed: 1 });
 * await trainMaskingModel(model, data, { steps: 2000 });
 * const maps = await maskingModel(model).explain(classifier, images, 'top');
 * ```
 */
export function createMaskingModel(classifier: Classifier, opts: MaskingModelOptions): MaskingModel {
  return buildMaskingModel(classifier, resolveConfig(classifier, opts));
}

/** The internals of a model made by this module (throws `BAD_OPTION` for anything else). */
export function internalsOf(model: MaskingModel, fn: string): MaskingModelInternals {
  const m = model as Partial<MaskingModelInternals>;
  if (m == null || typeof m.forward !== 'function' || typeof m.features !== 'function' || typeof m.upsample !== 'function') {
    throw new SaliencyError('BAD_OPTION', `${fn}: expected a model made by createMaskingModel() or loadMaskingModel().`);
  }
  return m as MaskingModelInternals;
}
