/*
 * Pixel-level drawing for the generated localisation set: a smooth, noisy,
 * dark coloured background, and MNIST digits re-sampled (scale, aspect,
 * rotation) into alpha patches that are pasted in a bright colour.
 */
import type { RandomStream } from './random.js';
import { MNIST_SIDE } from './mnist_digits.js';

/**
 * Alpha below which a re-sampled digit pixel counts as no ink: it is set to 0,
 * so a digit's tight box (the bounding box of its non-zero alpha) is exactly
 * where it changed the image.
 *
 * @example
 * ```ts
 * const inked = alpha >= INK_ALPHA;
 * ```
 */
export const INK_ALPHA = 0.15;

/** An RGB colour, each channel in 0–255. */
export type Rgb = readonly [number, number, number];

/** A re-sampled digit: alpha in {0} ∪ [INK_ALPHA, 1], with the tight box of its ink. */
export interface DigitPatch {
  /** Patch height, pixels. */
  height: number;
  /** Patch width, pixels. */
  width: number;
  /** Row-major alpha, `height × width`. */
  alpha: Float32Array;
  /** First row holding ink. */
  top: number;
  /** First column holding ink. */
  left: number;
  /** Rows from the first to the last holding ink. */
  inkHeight: number;
  /** Columns from the first to the last holding ink. */
  inkWidth: number;
}

/**
 * Converts HSV (each in [0, 1]) to RGB in 0–255.
 *
 * @param h - hue, [0, 1).
 * @param s - saturation, [0, 1].
 * @param v - value, [0, 1].
 * @returns `[r, g, b]`.
 *
 * @example
 * ```ts
 * const red = hsvToRgb(0, 1, 1); // [255, 0, 0]
 * ```
 */
export function hsvToRgb(h: number, s: number, v: number): Rgb {
  const i = Math.floor(h * 6) % 6;
  const f = h * 6 - Math.floor(h * 6);
  const p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
  const [r, g, b] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i];
  return [r * 255, g * 255, b * 255];
}

/**
 * A random bright colour (value 0.85–1, any hue and saturation): its largest
 * channel is at least 216, far above the background's (≤ 130).
 *
 * @param next - random stream.
 * @returns the colour.
 *
 * @example
 * ```ts
 * const c = brightColour(seededRandom(1));
 * ```
 */
export function brightColour(next: RandomStream): Rgb {
  return hsvToRgb(next(), next(), 0.85 + 0.15 * next());
}

function darkColour(next: RandomStream): Rgb {
  return hsvToRgb(next(), 0.8 * next(), 0.05 + 0.4 * next());
}

/**
 * A plausible dark "photo" background, `height × width × 3` floats in 0–255:
 * a coarse grid of dark colours (2–5 cells a side) bilinearly blended, 0–3
 * soft elliptical blobs of other dark colours, and uniform per-pixel noise
 * (±6). Every channel stays ≤ 130, so the bright digits stand out.
 *
 * @param height - image height.
 * @param width - image width.
 * @param next - random stream (consumed only here).
 * @returns interleaved RGB floats.
 *
 * @example
 * ```ts
 * const bg = renderBackground(224, 224, seededRandom(3));
 * ```
 */
export function renderBackground(height: number, width: number, next: RandomStream): Float32Array {
  const gh = 2 + Math.floor(next() * 4), gw = 2 + Math.floor(next() * 4);
  const grid = Array.from({ length: gh * gw }, () => darkColour(next));
  const out = new Float32Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    const gy = (y / Math.max(1, height - 1)) * (gh - 1);
    const y0 = Math.min(gh - 2, Math.floor(gy)), fy = gy - y0;
    for (let x = 0; x < width; x++) {
      const gx = (x / Math.max(1, width - 1)) * (gw - 1);
      const x0 = Math.min(gw - 2, Math.floor(gx)), fx = gx - x0;
      const a = grid[y0 * gw + x0], b = grid[y0 * gw + x0 + 1], c = grid[(y0 + 1) * gw + x0], d = grid[(y0 + 1) * gw + x0 + 1];
      const o = (y * width + x) * 3;
      for (let k = 0; k < 3; k++) {
        out[o + k] = (1 - fy) * ((1 - fx) * a[k] + fx * b[k]) + fy * ((1 - fx) * c[k] + fx * d[k]);
      }
    }
  }
  const blobs = Math.floor(next() * 4);
  for (let n = 0; n < blobs; n++) {
    const colour = darkColour(next);
    const cy = next() * height, cx = next() * width;
    const ry = (0.1 + 0.3 * next()) * height, rx = (0.1 + 0.3 * next()) * width;
    const strength = 0.3 + 0.5 * next();
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const r2 = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2;
        if (r2 > 9) continue;
        const w = strength * Math.exp(-r2);
        const o = (y * width + x) * 3;
        for (let k = 0; k < 3; k++) out[o + k] = (1 - w) * out[o + k] + w * colour[k];
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.min(130, Math.max(0, out[i] + (next() * 2 - 1) * 6));
  return out;
}

function sampleBilinear(src: Float32Array, y: number, x: number): number {
  const y0 = Math.floor(y), x0 = Math.floor(x), fy = y - y0, fx = x - x0;
  const at = (r: number, c: number) => (r < 0 || c < 0 || r >= MNIST_SIDE || c >= MNIST_SIDE ? 0 : src[r * MNIST_SIDE + c]);
  return (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
}

/**
 * Re-samples a 28×28 MNIST digit (bilinear) so that its ink is `inkHeight`
 * pixels tall before rotation, `aspect` × its natural width, rotated by
 * `angle` radians; alpha below {@link INK_ALPHA} is set to 0 and the tight
 * box of the remaining ink is returned with the patch.
 *
 * @param digit - 784 intensities in [0, 1].
 * @param inkHeight - target height of the ink, pixels (> 0).
 * @param aspect - horizontal stretch factor (1 = natural).
 * @param angle - rotation, radians.
 * @returns the patch, or `null` when no pixel reaches {@link INK_ALPHA}.
 *
 * @example
 * ```ts
 * const patch = resampleDigit(mnistDigit(3, 0), 60, 1, 0.1);
 * ```
 */
export function resampleDigit(digit: Float32Array, inkHeight: number, aspect: number, angle: number): DigitPatch | null {
  let r0 = MNIST_SIDE, r1 = -1, c0 = MNIST_SIDE, c1 = -1;
  for (let r = 0; r < MNIST_SIDE; r++) {
    for (let c = 0; c < MNIST_SIDE; c++) {
      if (digit[r * MNIST_SIDE + c] >= INK_ALPHA) {
        r0 = Math.min(r0, r); r1 = Math.max(r1, r); c0 = Math.min(c0, c); c1 = Math.max(c1, c);
      }
    }
  }
  if (r1 < 0) return null;
  const sy = inkHeight / (r1 - r0 + 1), sx = sy * aspect;
  const cy = (r0 + r1 + 1) / 2, cx = (c0 + c1 + 1) / 2; // centre of the ink, continuous coordinates
  const hh = ((r1 - r0 + 3) / 2) * sy, hw = ((c1 - c0 + 3) / 2) * sx; // half extents with a 1-pixel margin
  const cos = Math.cos(angle), sin = Math.sin(angle);
  const height = Math.ceil(2 * (Math.abs(cos) * hh + Math.abs(sin) * hw)) + 2;
  const width = Math.ceil(2 * (Math.abs(sin) * hh + Math.abs(cos) * hw)) + 2;
  const alpha = new Float32Array(height * width);
  let top = height, bottom = -1, left = width, right = -1;
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      const dy = i + 0.5 - height / 2, dx = j + 0.5 - width / 2;
      // inverse rotation, then inverse scale, into the source's continuous coordinates
      const uy = cos * dy - sin * dx, ux = sin * dy + cos * dx;
      const v = sampleBilinear(digit, cy + uy / sy - 0.5, cx + ux / sx - 0.5);
      if (v >= INK_ALPHA) {
        alpha[i * width + j] = Math.min(1, v);
        top = Math.min(top, i); bottom = Math.max(bottom, i); left = Math.min(left, j); right = Math.max(right, j);
      }
    }
  }
  if (bottom < 0) return null;
  return { height, width, alpha, top, left, inkHeight: bottom - top + 1, inkWidth: right - left + 1 };
}

/**
 * Pastes a patch into an interleaved RGB float image with its alpha:
 * `out = (1 − α)·out + α·colour`. The patch's top-left corner goes to
 * (`y`, `x`); parts outside the image are skipped.
 *
 * @param image - `height × width × 3` floats, changed in place.
 * @param height - image height.
 * @param width - image width.
 * @param patch - the digit.
 * @param y - row of the patch's top-left corner (may be negative).
 * @param x - column of the patch's top-left corner (may be negative).
 * @param colour - RGB in 0–255.
 *
 * @example
 * ```ts
 * pastePatch(image, 224, 224, patch, 10, 20, [255, 200, 0]);
 * ```
 */
export function pastePatch(image: Float32Array, height: number, width: number, patch: DigitPatch, y: number, x: number, colour: Rgb): void {
  for (let i = 0; i < patch.height; i++) {
    const yy = y + i;
    if (yy < 0 || yy >= height) continue;
    for (let j = 0; j < patch.width; j++) {
      const xx = x + j;
      const a = patch.alpha[i * patch.width + j];
      if (xx < 0 || xx >= width || a === 0) continue;
      const o = (yy * width + xx) * 3;
      for (let k = 0; k < 3; k++) image[o + k] = (1 - a) * image[o + k] + a * colour[k];
    }
  }
}
