import * as tf from '@tensorflow/tfjs-core';
import {
  blurMaps, checkImages, minMaxNormalize, resolveTargets, SaliencyError, sliceBatch, throwIfAborted,
  type AnySizeMethod, type Classifier, type SaliencyMethod, type Targets, yieldToEventLoop } from '@saliency/core/base';
import { fusionAdd, fusionDispose, fusionResult, fusionStart, type FusionState } from './fusion.js';
import { sessPatches, type SessPatch } from './geometry.js';
import { geometryFor, resolveSessOptions, type SessOptions } from './options.js';
import { cutPatches, ScaledImages } from './patches.js';
import { prefilterDropCount, prefilterKeep, scorePatches } from './prefilter.js';

/** The method {@link sess} returns: a {@link SaliencyMethod} that takes images of any size. */
export interface SessMethod extends AnySizeMethod {
  /** The wrapped method. */
  readonly base: SaliencyMethod;
}

/** The class of one image: the given one, or the argmax on the whole image resized to the model input. */
async function targetOf(classifier: Classifier, image: tf.Tensor4D, given: number | null): Promise<number> {
  if (given != null) return given;
  const [ih, iw] = classifier.inputSize;
  const resized = image.shape[1] === ih && image.shape[2] === iw
    ? tf.clone(image)
    : tf.tidy(() => tf.image.resizeBilinear(tf.cast(image, 'float32') as tf.Tensor4D, [ih, iw], false, true));
  try {
    return (await resolveTargets(classifier, resized, 'top'))[0];
  } finally {
    resized.dispose();
  }
}

/** The base method's maps of one batch of patches, window-sized and min-max normalised per patch. */
async function patchMaps(method: SaliencyMethod, classifier: Classifier, scaled: ScaledImages, batch: readonly SessPatch[], target: number): Promise<tf.Tensor3D> {
  const x = cutPatches(scaled, batch, classifier.inputSize);
  let maps: tf.Tensor3D;
  try {
    maps = await method.explain(classifier, x, new Array<number>(batch.length).fill(target));
  } finally {
    x.dispose();
  }
  const m = maps;
  try {
    return tf.tidy(() => {
      const [wh, ww] = batch[0].window;
      const sized = m.shape[1] === wh && m.shape[2] === ww
        ? m
        : tf.squeeze(tf.image.resizeBilinear(tf.expandDims(m, 3) as tf.Tensor4D, [wh, ww], false, true), [3]) as tf.Tensor3D;
      return minMaxNormalize(sized);
    });
  } finally {
    m.dispose();
  }
}

/**
 * SESS — Saliency Enhancing with Scaling and Sliding (Tursun et al., ECCV
 * 2022) around ANY saliency method; the result is itself a method that takes
 * images of ANY size and aspect ratio (`explain()` passes them at their own size).
 *
 * Per image (design.md §4):
 * 1. scales `round(w · (1 + 2i/7))` (w = the model's input side); the image is
 *    resized so its shorter side equals each scale;
 * 2. `w × w` windows from the top-left with `step`, the last one per direction
 *    snapped to the edge;
 * 3. pre-filter: every patch scored by the target probability in forward passes
 *    of `batchSize` patches; the lowest `floor(N · preFilterRatio)` are dropped;
 * 4. the base method runs on BATCHES of kept patches (one call per batch);
 *    each map min-max normalised;
 * 5. fusion: each map weighted by `p / max p`, pasted into a zero canvas of its
 *    scaled image, resized to the input size; per pixel the mean of the values
 *    `> theta` (0 where none), or the max; min-max;
 * 6. optional Gaussian smoothing (11×11, σ 5), then min-max again.
 *
 * Memory is bounded by the batch: patches are cut on the device per batch, a
 * scaled copy of the image lives only while a batch needs it, and the fusion
 * keeps two input-sized accumulators (one patch canvas at a time). A square
 * `w × w` image with one scale is one patch: SESS then returns the base
 * method's map (with `smooth: false`). `targets` of `explain` (or the `target`
 * option) pick the class; `'top'` is the argmax on the whole image.
 * Progress phases: `'prefilter'` and `'saliency'` (patches done / total over
 * all images). Between batches the event loop gets a turn (so a signal fired
 * from a timer or a UI event is seen) and the signal is checked (rejects with
 * `ABORTED`).
 *
 * @param method - the base method, e.g. `gradCam()`.
 * @param opts - see {@link SessOptions}; validated here.
 * @returns a method whose maps are `[N, H, W]` at the input images' size.
 * @throws SaliencyError `BAD_OPTION` for invalid options.
 *
 * @example
 * ```ts
 * import { explain, gradCam, sess } from '@saliency/core';
 * const map = await explain(sess(gradCam(), { scales: 6 }), classifier, { data, width: 500, height: 375 });
 * ```
 */
export function sess(method: SaliencyMethod, opts: SessOptions = {}): SessMethod {
  if (method == null || typeof method.explain !== 'function') {
    throw new SaliencyError('BAD_OPTION', 'sess() wraps a saliency method: pass one, e.g. sess(gradCam()).');
  }
  const o = resolveSessOptions(opts);
  return {
    name: `sess(${method.name})`,
    anySize: true,
    base: method,
    async explain(classifier: Classifier, images: tf.Tensor4D, targets: Targets): Promise<tf.Tensor3D> {
      await checkImages(images, classifier);
      const [n, h, w] = images.shape;
      const geometry = geometryFor(o, classifier.inputSize);
      const patches = sessPatches([h, w], geometry);
      const keptPerImage = patches.length - prefilterDropCount(patches.length, o.preFilterRatio);
      const want = o.target ?? targets;
      const given = want === 'top' ? null : await resolveTargets(classifier, images, want);
      const outs: tf.Tensor2D[] = [];
      try {
        for (let i = 0; i < n; i++) {
          throwIfAborted(opts.signal);
          const image = sliceBatch(images, i, 1);
          let scaled: ScaledImages | null = null;
          let state: FusionState | null = null;
          try {
            const target = await targetOf(classifier, image, given?.[i] ?? null);
            const offset = i * patches.length;
            const scores = await scorePatches(classifier, image, patches, target, o.batchSize, {
              signal: opts.signal,
              onProgress: (p) => opts.onProgress?.({ done: offset + p.done, total: n * patches.length, phase: p.phase }),
            });
            const kept = prefilterKeep(scores, o.preFilterRatio);
            let maxP = 0;
            for (const k of kept) maxP = Math.max(maxP, scores[k]);
            scaled = new ScaledImages(image);
            state = fusionStart([h, w], { pool: o.pool, theta: o.theta });
            for (let start = 0; start < kept.length; start += o.batchSize) {
              await yieldToEventLoop(); // lets a timer or UI event fire the signal between batches
              throwIfAborted(opts.signal);
              const idx = kept.slice(start, start + o.batchSize);
              const batch = idx.map((k) => patches[k]);
              const maps = await patchMaps(method, classifier, scaled, batch, target);
              try {
                // p / max p; if every probability underflowed to 0, weigh the patches equally.
                state = fusionAdd(state, maps, batch, idx.map((k) => (maxP > 0 ? scores[k] / maxP : 1)));
              } finally {
                maps.dispose();
              }
              opts.onProgress?.({ done: i * keptPerImage + start + idx.length, total: n * keptPerImage, phase: 'saliency' });
            }
            const s = state;
            outs.push(tf.tidy(() => {
              const fused = tf.expandDims(fusionResult(s), 0) as tf.Tensor3D;
              return tf.squeeze(minMaxNormalize(o.smooth == null ? fused : blurMaps(fused, o.smooth)), [0]) as tf.Tensor2D;
            }));
          } finally {
            if (state != null) fusionDispose(state);
            scaled?.dispose();
            image.dispose();
          }
        }
        return tf.stack(outs) as tf.Tensor3D;
      } finally {
        tf.dispose(outs);
      }
    },
  };
}
