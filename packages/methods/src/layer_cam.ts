import * as tf from '@tensorflow/tfjs-core';
import { minMaxNormalize, SaliencyError, type Classifier, type SaliencyMethod, type Targets } from '@saliency/core/base';
import { camMaps, checkCamOptions, type CamOptions, type CamSpec } from './cam_base.js';

/** Options of {@link layerCam}. */
export interface LayerCamOptions extends CamOptions {
  /**
   * Several layers to fuse (names, shallow or deep; `'auto'` allowed), instead of `layer`. Each
   * layer's map is computed at its own resolution, up-sampled to the input, scaled by
   * `tanh(gamma · M / max M)` and the maps are fused by their element-wise maximum (Jiang et al.,
   * Sec. 3.3). One forward + backward pass per layer per batch.
   */
  layers?: readonly string[];
  /** The scaling factor γ of the fusion (default 2, the paper's). Only used with two or more `layers`. */
  gamma?: number;
}

const LAYER_CAM: CamSpec = {
  name: 'layercam',
  gradients: true,
  cam: ({ features, gradients }) => tf.tidy(() => tf.sum(tf.mul(tf.relu(gradients as tf.Tensor4D), features), -1, true) as tf.Tensor4D),
};

/**
 * LayerCAM (Jiang, Zhang, Hou, Cheng & Wei, IEEE TIP 2021): every location of every channel is
 * weighted by its own POSITIVE gradient, map = ReLU(Σ_k ReLU(∂S_c/∂A_k) ⊙ A_k) (element-wise),
 * bilinearly up-sampled, min-max normalised per image. Because the weights are local, it gives
 * usable maps from shallow, high-resolution layers too. With `layers` it fuses several layers:
 * each map M_l (up-sampled to the input) is scaled to tanh(γ·M_l / max M_l), γ = 2, and the
 * element-wise maximum is taken, then min-max.
 *
 * @throws SaliencyError `BAD_OPTION` (at once); `UNKNOWN_LAYER`, `LAYER_NOT_4D`, `NO_GRADIENTS`,
 *   `ABORTED` and the image/target codes from `explain`.
 *
 * @example
 * ```ts
 * const deep = await layerCam({ layer: 'dense3' }).explain(classifier, images, 'top');
 * const fused = await layerCam({ layers: ['dense1', 'dense2', 'dense3'] }).explain(classifier, images, 'top');
 * ```
 */
export function layerCam(opts: LayerCamOptions = {}): SaliencyMethod {
  const o = checkCamOptions(opts, 'layerCam');
  const layers = opts.layers;
  if (layers != null && (!Array.isArray(layers) || layers.length === 0 || layers.some((l) => typeof l !== 'string'))) {
    throw new SaliencyError('BAD_OPTION', `layerCam: layers must be a non-empty array of layer names; got ${JSON.stringify(layers)}.`);
  }
  if (layers != null && opts.layer != null) {
    throw new SaliencyError('BAD_OPTION', 'layerCam: give either layer or layers, not both.');
  }
  const gamma = opts.gamma ?? 2;
  if (!Number.isFinite(gamma) || gamma <= 0) throw new SaliencyError('BAD_OPTION', `layerCam: gamma must be a finite number > 0; got ${gamma}.`);
  return {
    name: 'layercam',
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      if (layers == null || layers.length === 1) {
        return camMaps(classifier, images, targets, LAYER_CAM, { ...o, layer: layers?.[0] ?? o.layer });
      }
      let fused: tf.Tensor3D | null = null;
      try {
        for (const layer of layers) {
          const m = await camMaps(classifier, images, targets, LAYER_CAM, { ...o, layer }, false);
          const prev: tf.Tensor3D | null = fused;
          fused = tf.tidy(() => {
            const scaled = tf.tanh(tf.div(tf.mul(m, gamma), tf.maximum(tf.max(m, [1, 2], true), 1e-30))) as tf.Tensor3D;
            return prev == null ? scaled : (tf.maximum(prev, scaled) as tf.Tensor3D);
          });
          tf.dispose([m, ...(prev == null ? [] : [prev])]);
        }
        const done = fused as tf.Tensor3D;
        return tf.tidy(() => minMaxNormalize(done));
      } finally {
        fused?.dispose();
      }
    },
  };
}
