import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError } from '../errors.js';
import { JET_RGB } from './colormap_jet.js';
import { TURBO_RGB } from './colormap_turbo.js';
import { VIRIDIS_RGB } from './colormap_viridis.js';
import { assertRank, assertSpatial } from './validate.js';

/** A colour map available to {@link colorize} and `overlay`. */
export type ColormapName = 'jet' | 'viridis' | 'turbo';

/** The names {@link colorize} accepts. */
export const COLORMAP_NAMES: readonly ColormapName[] = Object.freeze(['jet', 'viridis', 'turbo'] as const);

const TABLES: Readonly<Record<ColormapName, Float32Array>> = {
  jet: JET_RGB,
  viridis: VIRIDIS_RGB,
  turbo: TURBO_RGB,
};

function tableOf(name: unknown, fn: string): Float32Array {
  if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(TABLES, name)) {
    throw new SaliencyError(
      'BAD_OPTION',
      `${fn}: unknown colour map ${JSON.stringify(name)}; use one of ${COLORMAP_NAMES.map((n) => `'${n}'`).join(', ')}.`,
    );
  }
  return TABLES[name as ColormapName];
}

/**
 * A copy of a colour map's 256-entry lookup table: `Float32Array` of 768 values,
 * `[r0, g0, b0, r1, …]` in [0, 1]. For drawing on a canvas without tensors.
 * Sources: matplotlib's `_viridis_data` and `_jet_data`, Google's Turbo table.
 *
 * @param name - `'jet'`, `'viridis'` or `'turbo'`.
 * @throws SaliencyError `BAD_OPTION` for an unknown name.
 *
 * @example
 * ```ts
 * const lut = colormapTable('viridis');
 * const [r, g, b] = lut.subarray(255 * 3, 256 * 3); // ≈ #fde725
 * ```
 */
export function colormapTable(name: ColormapName): Float32Array {
  return tableOf(name, 'colormapTable').slice();
}

/**
 * Colours maps with a 256-entry colour map, on the device.
 *
 * Each value v is clipped to [0, 1] and quantised like matplotlib
 * (`index = min(floor(v · 256), 255)`), then looked up with `tf.gather` in the
 * table (forward only: the result is for display, no gradient flows through it).
 *
 * @param maps - `[N, H, W]`, values in [0, 1] (e.g. `minMaxNormalize` output).
 * @param name - colour map, default `'jet'`.
 * @returns float32 `[N, H, W, 3]` RGB in [0, 1].
 * @throws SaliencyError `BAD_RANK`, `IMAGE_TOO_SMALL`, `BAD_OPTION` (unknown name).
 *
 * @example
 * ```ts
 * const rgb = colorize(minMaxNormalize(maps), 'viridis'); // [N, H, W, 3]
 * ```
 */
export function colorize(maps: tf.Tensor3D, name: ColormapName = 'jet'): tf.Tensor4D {
  assertRank(maps, [3], 'colorize: maps', '[N, H, W]');
  assertSpatial(maps.shape[1], maps.shape[2], 'colorize: maps', maps.shape);
  const table = tableOf(name, 'colorize');
  return tf.tidy(() => {
    const lut = tf.tensor2d(table, [256, 3], 'float32');
    const v = tf.clipByValue(tf.cast(maps, 'float32'), 0, 1);
    const idx = tf.cast(tf.clipByValue(tf.floor(tf.mul(v, 256)), 0, 255), 'int32');
    return tf.gather(lut, idx) as tf.Tensor as tf.Tensor4D;
  });
}
