/*
 * Per-channel attributions → one value per pixel, shared by Input×Gradient, Integrated Gradients
 * and Guided Grad-CAM. Internal to @saliency/methods (the type is exported).
 */
import * as tf from '@tensorflow/tfjs-core';
import { minMaxNormalize, SaliencyError } from '@saliency/core/base';

/**
 * How per-channel attributions `[N, H, W, C]` become one value per pixel before the min-max:
 * `'absSum'`: Σ_c |a|; `'maxAbs'`: max_c |a|; `'signed'`: Σ_c a (keeps the sign, so the most
 * negative pixel maps to 0); `'positive'`: ReLU(Σ_c a) (only evidence for the class).
 */
export type AttributionAggregate = 'absSum' | 'maxAbs' | 'signed' | 'positive';

const AGGREGATES: readonly AttributionAggregate[] = ['absSum', 'maxAbs', 'signed', 'positive'];

/** Validates an {@link AttributionAggregate} option. Throws `BAD_OPTION`. */
export function checkAggregate(value: unknown, fn: string, fallback: AttributionAggregate): AttributionAggregate {
  const v = value ?? fallback;
  if (!AGGREGATES.includes(v as AttributionAggregate)) {
    throw new SaliencyError('BAD_OPTION', `${fn}: aggregate must be one of ${AGGREGATES.map((a) => `'${a}'`).join(', ')}; got ${JSON.stringify(value)}.`);
  }
  return v as AttributionAggregate;
}

/** Aggregates `[N, H, W, C]` over channels and min-max normalises per image → `[N, H, W]`. */
export function attributionMaps(attr: tf.Tensor4D, aggregate: AttributionAggregate): tf.Tensor3D {
  return tf.tidy(() => {
    const per = aggregate === 'absSum' ? tf.sum(tf.abs(attr), -1)
      : aggregate === 'maxAbs' ? tf.max(tf.abs(attr), -1)
        : aggregate === 'signed' ? tf.sum(attr, -1)
          : tf.relu(tf.sum(attr, -1));
    return minMaxNormalize(per as tf.Tensor3D);
  });
}
