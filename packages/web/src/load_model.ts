import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import {
  fromGraphModel, fromLayersModel, SaliencyError, type Classifier, type ClassifierOptions,
} from '@saliency/core/base';

/** The two kinds of tfjs `model.json`. */
export type ModelFormat = 'layers' | 'graph';

/** Options of {@link modelSource}. */
export interface ModelSourceOptions {
  /** Called with the fraction (0–1) of the weights fetched so far (http only). */
  onProgress?: (fraction: number) => void;
  /** Passed to `fetch` (headers, credentials) for http(s) and relative URLs. */
  requestInit?: RequestInit;
}

/** Options of {@link loadClassifier}: how to fetch it, and how to wrap it (see `fromLayersModel`/`fromGraphModel`). */
export interface LoadClassifierOptions extends ClassifierOptions, ModelSourceOptions {
  /** `'layers'`, `'graph'`, or `'auto'` (default): read from the model.json (`format`, else the topology's shape). */
  format?: ModelFormat | 'auto';
}

/** A classifier loaded by {@link loadClassifier}. */
export interface LoadedClassifier {
  /** The wrapped model. */
  classifier: Classifier;
  /** The format the model.json declared (or was forced to). */
  format: ModelFormat;
  /** The underlying tfjs model (a `LayersModel` or a tfjs-converter `GraphModel`). */
  model: LayersModel | GraphModel;
  /** Frees the model's weights. */
  dispose(): void;
}

function isUrlLike(source: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /^https?:\/\//i.test(source);
}

/**
 * The tfjs IO handler that loads a model from `source`: a registered scheme
 * (`indexeddb://name` and `localstorage://name` in browsers, `http(s)://…`),
 * or any other URL, relative ones included (`./models/face/model.json`),
 * fetched with `tf.io.http`. Hand it to `tf.loadLayersModel`, to
 * `loadGraphModel`, or to any `@saliency` loader that takes an IO handler
 * (the masking model's `load` does).
 *
 * @param source - a URL or a `scheme://` path.
 * @param opts - download progress and `fetch` options.
 * @returns a handler whose `load()` gives the model's artifacts (topology + weights).
 * @throws SaliencyError `BAD_OPTION` for an empty source or an unknown scheme (the message lists the registered ones).
 *
 * @example
 * ```ts
 * const model = await tf.loadLayersModel(modelSource('indexeddb://my-masking-model'));
 * ```
 */
export function modelSource(source: string, opts: ModelSourceOptions = {}): tf.io.IOHandler {
  if (typeof source !== 'string' || source.trim() === '') {
    throw new SaliencyError('BAD_OPTION', 'A model source must be a non-empty URL or a scheme path like indexeddb://name.');
  }
  const http = (): tf.io.IOHandler => {
    const loadOptions: tf.io.LoadOptions = {};
    if (opts.onProgress != null) loadOptions.onProgress = opts.onProgress;
    if (opts.requestInit != null) loadOptions.requestInit = opts.requestInit;
    return tf.io.http(source, loadOptions);
  };
  if (/^https?:\/\//i.test(source)) return http();
  const handlers = tf.io.getLoadHandlers(source, opts.onProgress != null ? { onProgress: opts.onProgress } : undefined);
  if (handlers.length > 0) return handlers[0] as tf.io.IOHandler;
  if (isUrlLike(source)) return http();
  const scheme = source.slice(0, source.indexOf('://') + 3);
  throw new SaliencyError('BAD_OPTION',
    `No tfjs loader is registered for '${scheme}' here. Use an http(s) or relative URL to a model.json, or indexeddb:// / localstorage:// in a browser.`);
}

/** 'layers' or 'graph' from the artifacts of a model.json; null when they do not say. */
function detectFormat(artifacts: tf.io.ModelArtifacts): ModelFormat | null {
  const declared = (artifacts.format ?? '').toLowerCase();
  if (declared.includes('layers')) return 'layers';
  if (declared.includes('graph')) return 'graph';
  const topology = artifacts.modelTopology as { node?: unknown; class_name?: unknown; model_config?: unknown } | ArrayBuffer | undefined;
  if (topology != null && !(topology instanceof ArrayBuffer)) {
    if (Array.isArray(topology.node)) return 'graph';
    if (topology.class_name != null || topology.model_config != null) return 'layers';
  }
  return null;
}

/**
 * Loads a tfjs classifier from a `model.json` URL (layers or graph format,
 * detected from the file) or from IndexedDB, and wraps it as a `Classifier`
 * (`fromLayersModel` / `fromGraphModel` of `@saliency/core`). The model.json
 * and its weight shards are fetched once. Graph models need
 * `@tensorflow/tfjs-converter`, which is imported only then.
 *
 * @param source - see {@link modelSource}: `'./models/face/model.json'`, `'https://…/model.json'`, `'indexeddb://face'`.
 * @param opts - format, download options, and the classifier options (`preprocess`, `classNames`, `outputs`, …).
 * @returns the classifier, the detected format, the model and a `dispose()`.
 * @throws SaliencyError `BAD_OPTION` (bad source or format, a `format` the model.json contradicts,
 *   nothing stored under that name);
 *   errors of the wrappers (`BAD_RANK` for a model whose input is not an image, …).
 *   Network and parse errors of tfjs propagate as they are.
 *
 * @example
 * ```ts
 * const { classifier, dispose } = await loadClassifier('./models/mobilenet/model.json', {
 *   preprocess: { inputRange: [0, 255], modelRange: [-1, 1] },
 * });
 * ```
 */
export async function loadClassifier(source: string, opts: LoadClassifierOptions = {}): Promise<LoadedClassifier> {
  const { format: wanted = 'auto', onProgress, requestInit, ...classifierOptions } = opts;
  if (wanted !== 'auto' && wanted !== 'layers' && wanted !== 'graph') {
    throw new SaliencyError('BAD_OPTION', `format must be 'auto', 'layers' or 'graph'; got '${String(wanted)}'.`);
  }
  const sourceOptions: ModelSourceOptions = {};
  if (onProgress != null) sourceOptions.onProgress = onProgress;
  if (requestInit != null) sourceOptions.requestInit = requestInit;
  const handler = modelSource(source, sourceOptions);
  if (handler.load == null) throw new SaliencyError('BAD_OPTION', `The tfjs handler for ${source} cannot load models.`);
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await handler.load();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/^(indexeddb|localstorage):\/\//i.test(source) && /cannot find model/i.test(msg)) {
      throw new SaliencyError('BAD_OPTION', `Nothing is stored under ${source}: ${msg}. Save the model there first (model.save('${source}')).`);
    }
    throw e;
  }
  const detected = detectFormat(artifacts);
  if (wanted === 'auto' && detected == null) {
    throw new SaliencyError('BAD_OPTION',
      `Cannot tell whether ${source} is a layers or a graph model (no 'format' field and an unfamiliar topology); pass format: 'layers' or 'graph'.`);
  }
  if (wanted !== 'auto' && detected != null && detected !== wanted) {
    // Checked before loading: tfjs decodes the weights first and would leak them when the topology then fails.
    throw new SaliencyError('BAD_OPTION', `${source} is a ${detected} model, but format: '${wanted}' was given; pass format: '${detected}' or 'auto'.`);
  }
  const format = wanted === 'auto' ? detected as ModelFormat : wanted;
  const memory = tf.io.fromMemory(artifacts);
  if (format === 'layers') {
    const model = await loadLayersModel(memory);
    try {
      return { classifier: fromLayersModel(model, classifierOptions), format, model, dispose: () => model.dispose() };
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
  const model = await loadGraphModel(memory);
  try {
    return { classifier: fromGraphModel(model, classifierOptions), format, model, dispose: () => model.dispose() };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
