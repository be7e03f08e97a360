import * as tf from '@tensorflow/tfjs-core';

/**
 * One view of an image for test-time augmentation: the crop rectangle
 * `[top, top + height) × [left, left + width)` in image pixels, optionally
 * mirrored left–right, resized to the model's input size.
 */
export interface CropView {
  /** First row of the crop. */
  readonly top: number;
  /** First column of the crop. */
  readonly left: number;
  /** Rows in the crop. */
  readonly height: number;
  /** Columns in the crop. */
  readonly width: number;
  /** Mirrored left–right after cropping. */
  readonly flip: boolean;
}

/** Default side of a ten-crop crop, as a fraction of the image side (224 → 196, 112 → 98). */
export const TEN_CROP_FRACTION = 0.875;

/**
 * The ten crops of test-time augmentation for an `h × w` image: the four
 * corner crops and the centre crop, each `round(fraction·h) × round(fraction·w)`
 * (centre offset floored), then the same five mirrored. With `fraction ≥ 0.5`
 * every pixel lies in at least one corner crop.
 *
 * @param h - image height.
 * @param w - image width.
 * @param fraction - crop side / image side, in [0.5, 1].
 * @returns ten views: top-left, top-right, bottom-left, bottom-right, centre, then their mirrors.
 *
 * @example
 * ```ts
 * tenCropViews(224, 224)[4]; // { top: 14, left: 14, height: 196, width: 196, flip: false }
 * ```
 */
export function tenCropViews(h: number, w: number, fraction: number = TEN_CROP_FRACTION): CropView[] {
  const ch = Math.max(1, Math.min(h, Math.round(fraction * h)));
  const cw = Math.max(1, Math.min(w, Math.round(fraction * w)));
  const corners: [number, number][] = [
    [0, 0], [0, w - cw], [h - ch, 0], [h - ch, w - cw], [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2)],
  ];
  const views: CropView[] = [];
  for (const flip of [false, true]) {
    for (const [top, left] of corners) views.push({ top, left, height: ch, width: cw, flip });
  }
  return views;
}

/** The identity view of an `h × w` image (no crop, no mirror). */
export function fullView(h: number, w: number): CropView {
  return { top: 0, left: 0, height: h, width: w, flip: false };
}

function isFull(v: CropView, h: number, w: number): boolean {
  return v.top === 0 && v.left === 0 && v.height === h && v.width === w && !v.flip;
}

/**
 * `images[index[0]], images[index[1]], …` stacked, as slices of runs of consecutive indices
 * (concatenated when there are several): wasm's `GatherV2` copies element by element, 5.4 ms per
 * 224² RGB image against 0.1 ms for a slice, and SmoothGrad repeats each image per sample.
 */
function takeImages(images: tf.Tensor4D, index: readonly number[]): tf.Tensor4D {
  const parts: tf.Tensor4D[] = [];
  for (let i = 0; i < index.length;) {
    let j = i + 1;
    while (j < index.length && index[j] === (index[j - 1] as number) + 1) j++;
    parts.push(tf.slice(images, [index[i] as number, 0, 0, 0], [j - i, -1, -1, -1]));
    i = j;
  }
  return parts.length === 1 ? (parts[0] as tf.Tensor4D) : (tf.concat(parts, 0) as tf.Tensor4D);
}

/**
 * Builds the model inputs of a batch of views: `images[imageIndex[i]]` cropped
 * to `views[i]`, mirrored when the view says so, resized bilinearly with
 * aligned corners (the crop's corner pixels land on the output's corner
 * pixels: `tf.image.cropAndResize`'s sampling) to the image size `[H, W]`.
 * One `cropAndResize` call for the whole batch (a mirrored view is a box whose
 * x1 > x2).
 *
 * @param images - `[N, H, W, C]`.
 * @param imageIndex - which image each view is of.
 * @param views - one view per output item.
 * @returns `[views.length, H, W, C]`, caller-owned.
 *
 * @example
 * ```ts
 * const x = cropViews(images, [0, 0], tenCropViews(112, 112).slice(0, 2));
 * ```
 */
export function cropViews(images: tf.Tensor4D, imageIndex: readonly number[], views: readonly CropView[]): tf.Tensor4D {
  const [, h, w] = images.shape;
  return tf.tidy(() => {
    if (views.every((v) => isFull(v, h, w))) return takeImages(images, imageIndex);
    const sy = h > 1 ? h - 1 : 1;
    const sx = w > 1 ? w - 1 : 1;
    const boxes = views.map((v) => {
      const x1 = v.left / sx, x2 = (v.left + v.width - 1) / sx;
      return [v.top / sy, v.flip ? x2 : x1, (v.top + v.height - 1) / sy, v.flip ? x1 : x2];
    });
    return tf.image.cropAndResize(images, tf.tensor2d(boxes, [views.length, 4]), tf.tensor1d(imageIndex as number[], 'int32'), [h, w], 'bilinear');
  });
}

/**
 * Maps gradients taken on views back onto their images: each `[H, W, C]`
 * gradient is resized bilinearly (aligned corners, the inverse of
 * {@link cropViews}' sampling) to its crop's size, un-mirrored, and placed at
 * the crop's position in a zero `[H, W, C]` canvas.
 *
 * @param grads - `[B, H, W, C]`, one gradient per view.
 * @param views - the views the gradients were taken on.
 * @returns `[B, H, W, C]`, caller-owned.
 *
 * @example
 * ```ts
 * const placed = mapViewsBack(gradOnViews, views);
 * ```
 */
export function mapViewsBack(grads: tf.Tensor4D, views: readonly CropView[]): tf.Tensor4D {
  const [b, h, w] = grads.shape;
  return tf.tidy(() => {
    if (views.every((v) => isFull(v, h, w))) return tf.clone(grads);
    const parts: tf.Tensor4D[] = [];
    for (let i = 0; i < b; i++) {
      const v = views[i];
      let g = tf.slice(grads, [i, 0, 0, 0], [1, -1, -1, -1]);
      if (v.height !== h || v.width !== w) g = tf.image.resizeBilinear(g, [v.height, v.width], true);
      if (v.flip) g = tf.reverse(g, 2);
      parts.push(tf.pad(g, [[0, 0], [v.top, h - v.top - v.height], [v.left, w - v.left - v.width], [0, 0]]));
    }
    return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
  });
}

/**
 * How many of `views` cover each pixel of an `h × w` image, as `[h, w, 1]`
 * (the divisor that turns summed mapped-back gradients into a per-pixel mean).
 *
 * @example
 * ```ts
 * const count = viewCoverage(tenCropViews(16, 16), 16, 16); // 10 in the centre, 2 at the corners
 * ```
 */
export function viewCoverage(views: readonly CropView[], h: number, w: number): tf.Tensor3D {
  const count = new Float32Array(h * w);
  for (const v of views) {
    for (let y = v.top; y < v.top + v.height; y++) {
      for (let x = v.left; x < v.left + v.width; x++) count[y * w + x] += 1;
    }
  }
  return tf.tensor3d(count, [h, w, 1]);
}
