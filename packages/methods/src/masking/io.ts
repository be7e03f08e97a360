/**
 * Saving and loading masking models through tfjs IO handlers: any
 * `tf.io.IOHandler`, or a URL that tfjs resolves to one (`indexeddb://…`,
 * `localstorage://…`, `http(s)://…` in browsers; `file://…` in Node only when
 * a backend such as tfjs-node registers it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError, type Classifier } from '@saliency/core/base';
import { buildMaskingModel, internalsOf, type MaskingModel, type MaskingModelConfig } from './architecture.js';

/** The `format` tag of saved masking models. */
export const MASKING_MODEL_FORMAT = 'saliency-masking-model';
const VERSION = 1;
const WEIGHT_PREFIX = 'masking/';

/** What a saved model's `modelTopology` holds. */
interface Topology {
  format: string;
  version: number;
  config: MaskingModelConfig;
}

/** Artifacts of a model (weights under `masking/…`) plus extra named tensors and metadata. */
export async function maskingArtifacts(
  model: MaskingModel,
  extra: readonly { name: string; tensor: tf.Tensor }[] = [],
  meta: Record<string, unknown> = {},
): Promise<tf.io.ModelArtifacts> {
  const named = [...model.weights].map(([name, v]) => ({ name: WEIGHT_PREFIX + name, tensor: v as tf.Tensor }));
  const { data, specs } = await tf.io.encodeWeights([...named, ...extra]);
  const topology: Topology = { format: MASKING_MODEL_FORMAT, version: VERSION, config: model.config as MaskingModelConfig };
  return {
    modelTopology: topology as unknown as Record<string, unknown>,
    format: MASKING_MODEL_FORMAT,
    generatedBy: '@saliency/methods',
    weightSpecs: specs,
    weightData: data,
    userDefinedMetadata: { steps: model.steps, ...meta },
  };
}

/** Decoded artifacts: the configuration, every named tensor (caller disposes) and the metadata. */
export interface DecodedArtifacts {
  config: MaskingModelConfig;
  model: Map<string, tf.Tensor>;
  extra: Map<string, tf.Tensor>;
  meta: Record<string, unknown>;
}

/** Decodes artifacts written by {@link maskingArtifacts}; throws `BAD_OPTION` for anything else. */
export function decodeArtifacts(a: tf.io.ModelArtifacts, what: string): DecodedArtifacts {
  const topo = a.modelTopology as Partial<Topology> | undefined;
  if (topo == null || a.modelTopology instanceof ArrayBuffer || topo.format !== MASKING_MODEL_FORMAT || topo.config == null) {
    throw new SaliencyError('BAD_OPTION', `${what} is not a saved masking model (no '${MASKING_MODEL_FORMAT}' topology).`);
  }
  if (topo.version !== VERSION) {
    throw new SaliencyError('BAD_OPTION', `${what} has masking-model format version ${String(topo.version)}; this library reads version ${VERSION}.`);
  }
  if (a.weightSpecs == null || a.weightData == null) throw new SaliencyError('BAD_OPTION', `${what} holds no weights.`);
  const all = tf.io.decodeWeights(a.weightData, a.weightSpecs);
  const model = new Map<string, tf.Tensor>();
  const extra = new Map<string, tf.Tensor>();
  for (const [name, t] of Object.entries(all)) {
    if (name.startsWith(WEIGHT_PREFIX)) model.set(name.slice(WEIGHT_PREFIX.length), t);
    else extra.set(name, t);
  }
  return { config: topo.config, model, extra, meta: (a.userDefinedMetadata ?? {}) as Record<string, unknown> };
}

/** Checks that a saved configuration fits a classifier (sizes, classes and each encoder layer's shape). */
export function checkConfigFits(classifier: Classifier, c: MaskingModelConfig, what: string): void {
  const [H, W] = classifier.inputSize;
  if (c.inputSize[0] !== H || c.inputSize[1] !== W || c.channels !== classifier.channels || c.numClasses !== classifier.numClasses) {
    throw new SaliencyError('BAD_OPTION', `${what} was trained for a classifier with input ${c.inputSize.join('×')}×${c.channels} and ${c.numClasses} classes; this one has ${H}×${W}×${classifier.channels} and ${classifier.numClasses}.`);
  }
  if (c.upsampler != null && c.upsampler !== 'conv' && c.upsampler !== 'separable') {
    throw new SaliencyError('BAD_OPTION', `${what} has up-samplers of kind '${String(c.upsampler)}'; this version knows 'conv' and 'separable'.`);
  }
  if (c.finestBlock != null && c.finestBlock !== 'follow' && c.finestBlock !== 'lateral') {
    throw new SaliencyError('BAD_OPTION', `${what} has a finest block of kind '${String(c.finestBlock)}'; this version knows 'follow' and 'lateral'.`);
  }
  const shapes = tf.tidy(() => {
    const probe = classifier.preprocess(tf.zeros([1, H, W, classifier.channels]) as tf.Tensor4D);
    return c.encoderLayers.map((name) => classifier.at(name).features(probe).shape.slice(1));
  });
  shapes.forEach((s, i) => {
    if (!tf.util.arraysEqual(s, c.featureShapes[i])) {
      throw new SaliencyError('BAD_OPTION', `${what}: layer '${c.encoderLayers[i]}' of this classifier outputs [${s.join(', ')}], but the model was trained on [${c.featureShapes[i].join(', ')}].`);
    }
  });
}

function saveHandler(dest: tf.io.IOHandler | string, fn: string): tf.io.IOHandler {
  if (typeof dest !== 'string') {
    if (dest == null || typeof dest.save !== 'function') throw new SaliencyError('BAD_OPTION', `${fn}: the destination must be a URL or a tf.io.IOHandler with a save() method.`);
    return dest;
  }
  const handlers = tf.io.getSaveHandlers(dest);
  if (handlers.length === 0) {
    throw new SaliencyError('BAD_OPTION', `${fn}: no tfjs IO handler saves to '${dest}'. In browsers use indexeddb:// or localstorage://; in Node pass a file IO handler (tfjs-core has no file:// handler).`);
  }
  return handlers[0];
}

function loadHandler(src: tf.io.IOHandler | string, fn: string): tf.io.IOHandler {
  if (typeof src !== 'string') {
    if (src == null || typeof src.load !== 'function') throw new SaliencyError('BAD_OPTION', `${fn}: the source must be a URL or a tf.io.IOHandler with a load() method.`);
    return src;
  }
  const handlers = tf.io.getLoadHandlers(src);
  if (handlers.length === 0) {
    throw new SaliencyError('BAD_OPTION', `${fn}: no tfjs IO handler loads '${src}'. In browsers use indexeddb://, localstorage:// or http(s)://; in Node pass a file IO handler.`);
  }
  return handlers[0];
}

/**
 * Saves a masking model (architecture, every weight including the running
 * batch-norm statistics, and its step count) through a tfjs IO handler. The
 * classifier is not saved: load the model with the same classifier.
 *
 * @param model - a model from {@link createMaskingModel} or {@link loadMaskingModel}.
 * @param destination - a `tf.io.IOHandler` (e.g. `tf.io.withSaveHandler(…)`, a file
 *   handler in Node) or a URL tfjs can save to (`indexeddb://masker`, `localstorage://masker`).
 * @returns the handler's `SaveResult`.
 * @throws SaliencyError `BAD_OPTION` (no handler for the URL).
 *
 * @example
 * ```ts
 * await saveMaskingModel(model, 'indexeddb://face-masker');
 * ```
 */
export async function saveMaskingModel(model: MaskingModel, destination: tf.io.IOHandler | string): Promise<tf.io.SaveResult> {
  internalsOf(model, 'saveMaskingModel');
  const handler = saveHandler(destination, 'saveMaskingModel');
  const artifacts = await maskingArtifacts(model);
  return (handler.save as NonNullable<tf.io.IOHandler['save']>)(artifacts);
}

/**
 * Loads a masking model saved by {@link saveMaskingModel} (or a training
 * checkpoint) for the classifier it was trained on. Checks that the classifier's
 * input size, channels, class count and encoder layers' shapes match.
 *
 * @param classifier - the classifier the model was trained for.
 * @param source - a `tf.io.IOHandler` or a URL tfjs can load from.
 * @returns the model (call `dispose()` when done).
 * @throws SaliencyError `BAD_OPTION` (not a masking model, another classifier, no handler).
 *
 * @example
 * ```ts
 * const model = await loadMaskingModel(classifier, 'indexeddb://face-masker');
 * const maps = await maskingModel(model).explain(classifier, images, 'top');
 * ```
 */
export async function loadMaskingModel(classifier: Classifier, source: tf.io.IOHandler | string): Promise<MaskingModel> {
  const handler = loadHandler(source, 'loadMaskingModel');
  const artifacts = await (handler.load as NonNullable<tf.io.IOHandler['load']>)();
  const what = typeof source === 'string' ? `'${source}'` : 'The loaded artifacts';
  const decoded = decodeArtifacts(artifacts, what);
  try {
    checkConfigFits(classifier, decoded.config, what);
    const model = buildMaskingModel(classifier, decoded.config, decoded.model);
    const steps = decoded.meta.steps;
    model.steps = typeof steps === 'number' && Number.isInteger(steps) && steps >= 0 ? steps : 0;
    return model;
  } finally {
    tf.dispose([...decoded.model.values(), ...decoded.extra.values()]);
  }
}
