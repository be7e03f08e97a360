import { SaliencyError } from '@saliency/core/base';
import type { ModelSpec } from './load_classifier.js';
import { PRESET_NAMES, type PresetName } from './load_preset.js';

/** The CLI flags that describe the model (`--model`, `--input-size`, `--range`, `--mean`, `--std`, `--labels`, `--config`, `--layer`). */
export interface ModelFlags {
  /** A preset name (`face`, `mobilenet`, `digits`) or a folder / `model.json` path. */
  model?: string;
  /** `H,W` or `S` (square). */
  'input-size'?: string;
  /** `lo,hi`. */
  range?: string;
  /** One number or one per channel, comma-separated. */
  mean?: string;
  /** One number or one per channel, comma-separated. */
  std?: string;
  /** A `.txt` or `.json` file of class names. */
  labels?: string;
  /** A `model.saliency.json`. */
  config?: string;
  /** The CAM layer. */
  layer?: string;
}

function numbers(s: string, flag: string): number[] {
  const v = s.split(',').map((e) => Number(e.trim()));
  if (s.trim() === '' || v.some((n) => !Number.isFinite(n))) throw new SaliencyError('BAD_OPTION', `${flag} must be comma-separated numbers; got '${s}'.`);
  return v;
}

/**
 * Turns the CLI's model flags into a {@link ModelSpec} for `loadClassifier`: `--model` is a
 * preset name or a path (default `face`); `--input-size 224` or `224,224`; `--range 0,1`;
 * `--mean 0.485,0.456,0.406`; `--std 0.229,0.224,0.225`; `--labels`, `--config`, `--layer` as given.
 *
 * @param flags - the parsed flags.
 * @returns the spec (paths as given; `loadClassifier` resolves them).
 * @throws SaliencyError `BAD_OPTION` for malformed numbers.
 *
 * @example
 * ```ts
 * modelSpecFromFlags({ model: 'my-model', range: '0,1' }); // { path: 'my-model', range: [0, 1] }
 * ```
 */
export function modelSpecFromFlags(flags: ModelFlags): ModelSpec {
  const model = flags.model ?? 'face';
  const spec: ModelSpec = (PRESET_NAMES as readonly string[]).includes(model) ? { preset: model as PresetName } : { path: model };
  if (flags['input-size'] != null) {
    const v = numbers(flags['input-size'], '--input-size');
    if (v.length > 2 || v.some((n) => !Number.isInteger(n) || n < 1)) throw new SaliencyError('BAD_OPTION', `--input-size must be H,W or S in pixels; got '${flags['input-size']}'.`);
    spec.inputSize = [v[0], v[v.length - 1]];
  }
  if (flags.range != null) {
    const v = numbers(flags.range, '--range');
    if (v.length !== 2) throw new SaliencyError('BAD_OPTION', `--range must be lo,hi; got '${flags.range}'.`);
    spec.range = [v[0], v[1]];
  }
  if (flags.mean != null) spec.mean = numbers(flags.mean, '--mean');
  if (flags.std != null) spec.std = numbers(flags.std, '--std');
  if (flags.labels != null) spec.labels = flags.labels;
  if (flags.config != null) spec.config = flags.config;
  if (flags.layer != null) spec.layer = flags.layer;
  return spec;
}
