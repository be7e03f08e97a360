/**
 * Cutting batches of SESS patches out of scaled copies of one image, on the
 * device. Internal to the package.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SessPatch } from './geometry.js';

/**
 * A one-pixel border repeating the edge pixels, `[1, h + 2, w + 2, C]`. Same
 * result both ways; `mirrorPad` is fast on wasm and GPU backends, while the
 * cpu backend pads ~10× faster by concatenating the edge rows and columns.
 */
function edgeBorder(x: tf.Tensor4D): tf.Tensor4D {
  if (tf.getBackend() !== 'cpu') return tf.mirrorPad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], 'symmetric');
  const [, h, w] = x.shape;
  const rows = tf.concat([tf.slice(x, [0, 0, 0, 0], [1, 1, w, -1]), x, tf.slice(x, [0, h - 1, 0, 0], [1, 1, w, -1])], 1);
  return tf.concat([tf.slice(rows, [0, 0, 0, 0], [1, h + 2, 1, -1]), rows, tf.slice(rows, [0, 0, w - 1, 0], [1, h + 2, 1, -1])], 2) as tf.Tensor4D;
}

/**
 * Scaled copies of one image `[1, H, W, C]`, made on demand. Patches are
 * visited in scale order, so copies of scales below the lowest one still
 * needed are released: at most the scales one batch spans are alive.
 */
export class ScaledImages {
  private readonly cache = new Map<number, tf.Tensor4D>();

  /** @param image - `[1, H, W, C]`, owned by the caller. */
  constructor(private readonly image: tf.Tensor4D) {}

  /** Releases the copies of scales with index below `scaleIndex`. */
  releaseBelow(scaleIndex: number): void {
    for (const [k, t] of this.cache) {
      if (k < scaleIndex) {
        t.dispose();
        this.cache.delete(k);
      }
    }
  }

  /**
   * The image scaled to `patch.scaledSize` (bilinear, half-pixel centres;
   * float32), with a one-pixel border repeating the edges:
   * `[1, h + 2, w + 2, C]` (see {@link cutPatches}).
   */
  of(patch: SessPatch): tf.Tensor4D {
    let t = this.cache.get(patch.scaleIndex);
    if (t == null) {
      const [h, w] = patch.scaledSize;
      const img = this.image;
      t = tf.tidy(() => {
        const f = tf.cast(img, 'float32') as tf.Tensor4D;
        const scaled = img.shape[1] === h && img.shape[2] === w ? f : tf.image.resizeBilinear(f, [h, w], false, true);
        return edgeBorder(scaled);
      });
      this.cache.set(patch.scaleIndex, t);
    }
    return t;
  }

  /** Releases every copy. */
  dispose(): void {
    this.releaseBelow(Infinity);
  }
}

/**
 * The patches as one batch `[b, ih, iw, C]` at the model's input size. Windows
 * of one scale are cut in one `cropAndResize` with pixel-aligned boxes (a crop
 * at the window's own size): sampling falls on the pixel grid up to float32
 * rounding of the box coordinates, so values are within ~0.02 of an exact crop
 * of 0–255 data (~1e-4 relative). The one-pixel edge border of the scaled copy
 * keeps every sampling coordinate strictly inside the image: a rounded
 * coordinate never reads the extrapolation value, and no box starts at 0
 * (wasm's CropAndResize returns wrong pixels for boxes with y1 = 0, measured
 * on tfjs 4.22). A window covering its whole scaled image is sliced exactly.
 * (A `tf.slice` per window would be exact everywhere, but wasm's slice copies
 * its whole source on every call — ~5–30 ms per patch from a large scaled
 * image, against ~1–3 ms per patch for cropAndResize.) The crops are resized
 * to the input only when the window differs from it.
 */
export function cutPatches(scaled: ScaledImages, patches: readonly SessPatch[], inputSize: readonly [number, number]): tf.Tensor4D {
  scaled.releaseBelow(patches[0].scaleIndex);
  const sources = patches.map((p) => scaled.of(p));
  return tf.tidy(() => {
    const parts: tf.Tensor4D[] = [];
    for (let i = 0; i < patches.length;) {
      let g = 1;
      while (i + g < patches.length && patches[i + g].scaleIndex === patches[i].scaleIndex) g++;
      const run = patches.slice(i, i + g);
      const src = sources[i];
      const [h, w] = run[0].scaledSize;
      const [wh, ww] = run[0].window;
      if (wh === h && ww === w) {
        const whole = tf.slice(src, [0, 1, 1, 0], [1, h, w, -1]) as tf.Tensor4D;
        parts.push(...run.map(() => whole));
      } else {
        // In the bordered copy (h + 2 rows) pixel v of the scaled image is row v + 1, at (v + 1) / (h + 1).
        const y = (v: number) => (v + 1) / (h + 1);
        const x = (v: number) => (v + 1) / (w + 1);
        const boxes = tf.tensor2d(run.flatMap((p) => [y(p.top), x(p.left), y(p.top + wh - 1), x(p.left + ww - 1)]), [g, 4]);
        parts.push(tf.image.cropAndResize(src, boxes, tf.zeros([g], 'int32') as tf.Tensor1D, [wh, ww], 'bilinear'));
      }
      i += g;
    }
    const batch = (parts.length === 1 ? parts[0] : tf.concat(parts, 0)) as tf.Tensor4D;
    const [wh, ww] = patches[0].window;
    return wh === inputSize[0] && ww === inputSize[1] ? batch : tf.image.resizeBilinear(batch, [inputSize[0], inputSize[1]], false, true);
  });
}
