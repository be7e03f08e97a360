import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel } from '@tensorflow/tfjs-layers';
import {
  fromGraphModel, fromLayersModel, SaliencyError, type Classifier, type ClassifierOptions,
} from '@saliency/core/base';
import { fileHandler } from './file_handler.js';
import { loadPreset, PRESET_NAMES, type PresetName } from './load_preset.js';

/**
 * What to load, as plain JSON (it is sent to worker processes and hashed into job keys): a bundled
 * preset or a model on disk, with its preprocessing, class names and CAM layer.
 */
export interface ModelSpec {
  /** A bundled model (`@saliency/models`): `face`, `mobilenet` or `digits`. */
  preset?: PresetName;
  /** A folder holding `model.json`, or the `model.json` itself (layers or graph; told apart by the file). */
  path?: string;
  /** Model input `[height, width]`; default: read from the model. */
  inputSize?: [number, number];
  /** Pixel range the model expects (images are read in 0–255), e.g. `[0, 1]` or `[-1, 1]`; default `[0, 255]`. */
  range?: [number, number];
  /** Subtracted per channel after the range change (one value or one per channel); default 0. */
  mean?: number[];
  /** Divides per channel after the mean (one value or one per channel); default 1. */
  std?: number[];
  /** Class names, or the path of a `.txt` (one per line) or `.json` (array, or object index → name or → [id, name]). */
  labels?: string | string[];
  /** The CAM methods' layer (a layer name, a graph node name, or `'auto'`). */
  layer?: string;
  /** A `model.saliency.json` holding any of these fields (default: the one beside `model.json`, when present). */
  config?: string;
  /** What the model outputs (see `ClassifierOptions.outputs`); default `'auto'`. */
  outputs?: 'auto' | 'logits' | 'probabilities';
}

/** A classifier made by {@link loadClassifier}; call `dispose()` when done. */
export interface LoadedClassifier {
  /** The wrapped model (images in 0–255). */
  classifier: Classifier;
  /** Class names (`class0`, `class1`, … when none were given). */
  labels: string[];
  /** The CAM layer to use by default (from the spec, or the preset's). */
  camLayer?: string;
  /** The spec after merging the config file and the options: what was actually loaded, paths absolute. */
  spec: ModelSpec;
  /** `'layers'` or `'graph'` for models from disk, `'preset'` for bundled ones. */
  format: 'layers' | 'graph' | 'preset';
  /** Frees the model's weights. */
  dispose(): void;
}

/** The config file {@link loadClassifier} looks for beside a `model.json`. */
export const MODEL_CONFIG_FILE = 'model.saliency.json';

const SPEC_KEYS = ['preset', 'path', 'inputSize', 'range', 'mean', 'std', 'labels', 'layer', 'config', 'outputs'] as const;

function bad(message: string): SaliencyError {
  return new SaliencyError('BAD_MODEL', message);
}

function numberList(v: unknown, name: string, length?: number): number[] {
  const list = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.some((e) => typeof e !== 'number' || !Number.isFinite(e))
    || (length != null && list.length !== length)) {
    throw new SaliencyError('BAD_OPTION', `${name} must be ${length != null ? `${length} finite numbers` : 'finite numbers'}; got ${JSON.stringify(v)}.`);
  }
  return list as number[];
}

/** Checks a spec read from JSON or given by a caller; paths are resolved against `base`. */
function checkSpec(raw: unknown, where: string, base: string): ModelSpec {
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) throw bad(`${where} must be a JSON object; got ${JSON.stringify(raw)}.`);
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !(SPEC_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) throw bad(`${where} has unknown field(s) ${unknown.join(', ')}; known: ${SPEC_KEYS.join(', ')}.`);
  const spec: ModelSpec = {};
  if (o.preset != null) {
    if (!(PRESET_NAMES as readonly unknown[]).includes(o.preset)) throw bad(`${where}: preset must be one of ${PRESET_NAMES.join(', ')}; got ${JSON.stringify(o.preset)}.`);
    spec.preset = o.preset as PresetName;
  }
  const path = (v: unknown, name: string): string => {
    if (typeof v !== 'string' || v === '') throw bad(`${where}: ${name} must be a path; got ${JSON.stringify(v)}.`);
    return isAbsolute(v) ? v : resolve(base, v);
  };
  if (o.path != null) spec.path = path(o.path, 'path');
  if (o.config != null) spec.config = path(o.config, 'config');
  if (o.inputSize != null) {
    const s = numberList(o.inputSize, `${where}: inputSize`, 2);
    if (s.some((v) => !Number.isInteger(v) || v < 1)) throw new SaliencyError('BAD_OPTION', `${where}: inputSize must be two positive integers [height, width]; got ${JSON.stringify(o.inputSize)}.`);
    spec.inputSize = [s[0], s[1]];
  }
  if (o.range != null) {
    const r = numberList(o.range, `${where}: range`, 2);
    if (!(r[1] > r[0])) throw new SaliencyError('BAD_OPTION', `${where}: range must be increasing [low, high]; got ${JSON.stringify(o.range)}.`);
    spec.range = [r[0], r[1]];
  }
  if (o.mean != null) spec.mean = numberList(o.mean, `${where}: mean`);
  if (o.std != null) spec.std = numberList(o.std, `${where}: std`);
  if (o.labels != null) {
    if (typeof o.labels === 'string') spec.labels = path(o.labels, 'labels');
    else if (Array.isArray(o.labels) && o.labels.every((l) => typeof l === 'string')) spec.labels = [...o.labels] as string[];
    else throw bad(`${where}: labels must be a path or an array of names; got ${JSON.stringify(o.labels)}.`);
  }
  if (o.layer != null) {
    if (typeof o.layer !== 'string' || o.layer === '') throw bad(`${where}: layer must be a name; got ${JSON.stringify(o.layer)}.`);
    spec.layer = o.layer;
  }
  if (o.outputs != null) {
    if (!['auto', 'logits', 'probabilities'].includes(o.outputs as string)) throw bad(`${where}: outputs must be auto, logits or probabilities; got ${JSON.stringify(o.outputs)}.`);
    spec.outputs = o.outputs as ModelSpec['outputs'];
  }
  return spec;
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw bad(`Cannot read ${what} ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw bad(`${what} ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Class names from a `.txt` file (one per line, blank lines ignored) or a `.json` file: an array
 * of names, or an object from index to a name or to `[id, name]` (Keras' `imagenet_class_index.json`).
 *
 * @param file - the labels file.
 * @returns the names, in class order.
 * @throws SaliencyError `BAD_MODEL` when the file is missing or malformed.
 *
 * @example
 * ```ts
 * const names = readLabels('my-model/labels.txt');
 * ```
 */
export function readLabels(file: string): string[] {
  if (extname(file).toLowerCase() === '.json') {
    const v = readJson(file, 'labels file');
    if (Array.isArray(v) && v.every((e) => typeof e === 'string')) return v as string[];
    if (v != null && typeof v === 'object' && !Array.isArray(v)) {
      const entries = Object.entries(v as Record<string, unknown>);
      const names: string[] = [];
      for (const [k, e] of entries) {
        const i = Number(k);
        const name = typeof e === 'string' ? e : Array.isArray(e) && typeof e[e.length - 1] === 'string' ? e[e.length - 1] as string : null;
        if (!Number.isInteger(i) || i < 0 || i >= entries.length || name == null || names[i] != null) {
          throw bad(`labels file ${file}: expected an array of names or an object {"0": name, …} with indices 0…${entries.length - 1}; bad entry ${JSON.stringify(k)}: ${JSON.stringify(e)}.`);
        }
        names[i] = name;
      }
      return names;
    }
    throw bad(`labels file ${file}: expected an array of names or an object {"0": name, …}.`);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw bad(`Cannot read labels file ${file}: ${(e as Error).message}`);
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
}

/** `'layers'` or `'graph'` from a parsed model.json, or null when it does not say. */
export function modelJsonFormat(json: unknown): 'layers' | 'graph' | null {
  if (json == null || typeof json !== 'object') return null;
  const o = json as { format?: unknown; modelTopology?: unknown };
  const declared = typeof o.format === 'string' ? o.format.toLowerCase() : '';
  if (declared.includes('layers')) return 'layers';
  if (declared.includes('graph')) return 'graph';
  const t = o.modelTopology as { node?: unknown; class_name?: unknown; model_config?: unknown } | null | undefined;
  if (t != null && typeof t === 'object') {
    if (Array.isArray(t.node)) return 'graph';
    if (t.class_name != null || t.model_config != null) return 'layers';
  }
  return null;
}

/** The model.json of a path (a folder holding one, or the file). */
function modelJsonOf(path: string): string {
  if (!existsSync(path)) throw bad(`No model at ${path}: give a folder holding model.json, or the model.json itself.`);
  const file = statSync(path).isDirectory() ? join(path, 'model.json') : path;
  if (!existsSync(file)) throw bad(`${path} holds no model.json.`);
  return file;
}

/** Merges, later wins; undefined fields do not override. */
function merge(...specs: ModelSpec[]): ModelSpec {
  const out: Record<string, unknown> = {};
  for (const s of specs) for (const [k, v] of Object.entries(s)) if (v !== undefined) out[k] = v;
  return out as ModelSpec;
}

function toOptions(spec: ModelSpec, labels: string[] | undefined): ClassifierOptions {
  const opts: ClassifierOptions = {
    preprocess: {
      inputRange: [0, 255],
      modelRange: spec.range ?? [0, 255],
      mean: spec.mean == null ? 0 : spec.mean.length === 1 ? spec.mean[0] : spec.mean,
      std: spec.std == null ? 1 : spec.std.length === 1 ? spec.std[0] : spec.std,
    },
  };
  if (spec.inputSize != null) opts.inputSize = spec.inputSize;
  if (labels != null) opts.classNames = labels;
  if (spec.outputs != null) opts.outputs = spec.outputs;
  return opts;
}

/**
 * Loads a classifier: one of the bundled presets (`face`, `mobilenet`, `digits`, from
 * `@saliency/models`), or any tfjs model on disk — a folder with `model.json` or the file itself,
 * layers or graph (detected from `format`/`modelTopology`) — with its preprocessing, class names
 * and CAM layer taken from the options, the spec, and a `model.saliency.json` beside the model (in
 * that order of precedence). Images are read in 0–255; `range`, `mean` and `std` say what the model
 * wants: `v = x / 255 · (hi − lo) + lo`, then `(v − mean) / std`. This is what `saliency explain
 * --model <dir|model.json>` uses.
 *
 * @param pathOrSpec - a path, a preset name, or a {@link ModelSpec}.
 * @param opts - overrides of the spec's fields (flags of the CLI).
 * @returns the classifier, its labels, its CAM layer, the effective spec and `dispose()`.
 * @throws SaliencyError `BAD_MODEL` (no model.json, unreadable or malformed JSON, unknown format,
 *   a config with unknown fields, labels that do not match the model's classes), `BAD_OPTION`
 *   (bad numbers), `MISSING_PACKAGE` (a preset without `@saliency/models` installed).
 *
 * @example
 * ```ts
 * const { classifier, labels, camLayer, dispose } = await loadClassifier('my-model', { range: [0, 1], labels: 'my-model/labels.txt' });
 * const map = await explain(gradCam({ layer: camLayer }), classifier, image);
 * dispose();
 * ```
 */
export async function loadClassifier(pathOrSpec: string | ModelSpec, opts: Omit<ModelSpec, 'path' | 'preset'> = {}): Promise<LoadedClassifier> {
  const given: ModelSpec = typeof pathOrSpec === 'string'
    ? (PRESET_NAMES as readonly string[]).includes(pathOrSpec) && !existsSync(pathOrSpec) ? { preset: pathOrSpec as PresetName } : { path: pathOrSpec }
    : pathOrSpec;
  const first = merge(checkSpec(given, 'the model spec', process.cwd()), checkSpec(opts, 'the model options', process.cwd()));
  if ((first.preset == null) === (first.path == null)) throw bad('Give either a preset (face, mobilenet, digits) or a path to a model, not both or neither.');
  const modelJson = first.path != null ? modelJsonOf(first.path) : null;
  const configFile = first.config ?? (modelJson != null && existsSync(join(dirname(modelJson), MODEL_CONFIG_FILE)) ? join(dirname(modelJson), MODEL_CONFIG_FILE) : undefined);
  const fromConfig = configFile != null ? checkSpec(readJson(configFile, 'model config'), configFile, dirname(configFile)) : {};
  if (fromConfig.path != null || fromConfig.preset != null) throw bad(`${configFile}: a config describes the model beside it; it cannot name a path or preset.`);
  // Precedence: the options (flags) over the spec over the config file.
  const spec = merge(fromConfig, checkSpec(given, 'the model spec', process.cwd()), checkSpec(opts, 'the model options', process.cwd()));
  if (configFile != null) spec.config = configFile;
  const labels = spec.labels == null ? undefined : typeof spec.labels === 'string' ? readLabels(spec.labels) : spec.labels;

  if (spec.preset != null) {
    const own = (['inputSize', 'range', 'mean', 'std', 'labels', 'outputs'] as const).filter((k) => spec[k] != null);
    if (own.length > 0) {
      throw new SaliencyError('BAD_OPTION', `The '${spec.preset}' preset has its own preprocessing and labels; ${own.join(', ')} apply to models from disk only (--model <dir|model.json>).`);
    }
    const preset = await loadPreset(spec.preset);
    const names = preset.classifier.classNames ?? [];
    return {
      classifier: preset.classifier, labels: [...names], camLayer: spec.layer ?? preset.camLayer, spec, format: 'preset', dispose: preset.dispose,
    };
  }

  const json = readJson(modelJson!, 'model.json');
  const format = modelJsonFormat(json);
  if (format == null) throw bad(`${modelJson}: cannot tell a layers from a graph model (no 'format' field and an unfamiliar modelTopology).`);
  const artifacts = await fileHandler(dirname(modelJson!)).load!().catch((e: unknown) => {
    throw bad(`Cannot read the weights of ${modelJson}: ${(e as Error).message}`);
  });
  const memory = tf.io.fromMemory(artifacts);
  let dispose: () => void;
  let classifier: Classifier;
  if (format === 'layers') {
    const model = await loadLayersModel(memory);
    dispose = () => model.dispose();
    try {
      classifier = fromLayersModel(model, toOptions(spec, labels));
    } catch (e) {
      dispose();
      throw e;
    }
  } else {
    const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
    const model = await loadGraphModel(memory);
    dispose = () => model.dispose();
    try {
      classifier = fromGraphModel(model, toOptions(spec, labels));
    } catch (e) {
      dispose();
      throw e;
    }
  }
  if (labels != null && labels.length !== classifier.numClasses) {
    dispose();
    throw bad(`${labels.length} labels were given, but the model has ${classifier.numClasses} classes.`);
  }
  const names = labels ?? Array.from({ length: classifier.numClasses }, (_, i) => `class${i}`);
  return { classifier, labels: names, camLayer: spec.layer, spec, format, dispose };
}
