/**
 * The alternative images A of Φ(x, M) = x⊙M + A⊙(1 − M): per sample at random,
 * a heavily blurred copy of the image or a random colour plus Gaussian noise
 * (Dabkowski & Gal 2017; constants from the authors' `apply_mask` in
 * `sal/utils/mask.py`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gaussianBlur, SaliencyError } from '@saliency/core/base';
import { hashSeed, uniformStream } from './random.js';

/** How the alternative images are drawn; see {@link ALTERNATIVE_DEFAULTS}. */
export interface AlternativeOptions {
  /** Probability that a sample's alternative is the blurred image (else a noisy colour). */
  blurProbability: number;
  /** Odd side of the Gaussian blur kernel, in pixels. */
  blurKernel: number;
  /** Standard deviation of the blur, in pixels. */
  blurSigma: number;
  /** Width of the uniform colour range around the middle of the input range, in half-ranges. */
  colourRange: number;
  /** Standard deviation of the noise added to the colour, in half-ranges. */
  noiseStd: number;
  /** Standard deviation of the noise added to the image itself before masking, in half-ranges. */
  imageNoise: number;
}

/**
 * Defaults of the authors' `apply_mask(images, mask, noise=True, random_colors=True,
 * blurred_version_prob=0.5, noise_std=0.11, color_range=0.66, blur_kernel_size=55,
 * blur_sigma=11, preserved_imgs_noise_std=0.03)`. Their images are normalised to
 * [−1, 1]; here every amplitude is in HALF-RANGES of the classifier's input range
 * (`(hi − lo)/2`: 0.11 is 0.055 for images in [0, 1], 14 for 0–255), and the colour is
 * drawn per channel uniformly in `mid ± 0.33` half-ranges around the middle of the range
 * (their 0, the mean of their normalisation).
 */
export const ALTERNATIVE_DEFAULTS: Readonly<AlternativeOptions> = Object.freeze({
  blurProbability: 0.5,
  blurKernel: 55,
  blurSigma: 11,
  colourRange: 0.66,
  noiseStd: 0.11,
  imageNoise: 0.03,
});

/** Checks {@link AlternativeOptions}; throws `BAD_OPTION`. */
export function checkAlternativeOptions(o: AlternativeOptions, fn: string): AlternativeOptions {
  const bad = (what: string, v: number): never => {
    throw new SaliencyError('BAD_OPTION', `${fn}: ${what}, got ${String(v)}.`);
  };
  if (!(o.blurProbability >= 0 && o.blurProbability <= 1)) bad('blurProbability must be in [0, 1]', o.blurProbability);
  if (!(Number.isInteger(o.blurKernel) && o.blurKernel >= 1 && o.blurKernel % 2 === 1)) bad('blurKernel must be an odd positive integer', o.blurKernel);
  if (!(o.blurSigma > 0 && Number.isFinite(o.blurSigma))) bad('blurSigma must be > 0', o.blurSigma);
  if (!(o.colourRange >= 0 && Number.isFinite(o.colourRange))) bad('colourRange must be ≥ 0', o.colourRange);
  if (!(o.noiseStd >= 0 && Number.isFinite(o.noiseStd))) bad('noiseStd must be ≥ 0', o.noiseStd);
  if (!(o.imageNoise >= 0 && Number.isFinite(o.imageNoise))) bad('imageNoise must be ≥ 0', o.imageNoise);
  return o;
}

/** The random draws of one sample's alternative (from its own seed). */
export interface AlternativeDraw {
  /** True: the blurred image; false: colour + noise. */
  blurred: boolean;
  /** Per channel, the colour offset from the middle of the range, in half-ranges. */
  colour: number[];
}

/** The draws of one sample: blur with probability p, else a colour in ±colourRange/2 per channel. */
export function alternativeDraw(sampleSeed: number, channels: number, o: AlternativeOptions): AlternativeDraw {
  const r = uniformStream(hashSeed(sampleSeed, 0));
  const blurred = r() < o.blurProbability;
  const colour = Array.from({ length: channels }, () => (r() - 0.5) * o.colourRange);
  return { blurred, colour };
}

/** Images with their small noise and the alternatives A, both `[N, H, W, C]` in the user's range. */
export interface Alternatives {
  /** `x + N(0, imageNoise)` (what is masked). */
  images: tf.Tensor4D;
  /** The alternative images A. */
  alt: tf.Tensor4D;
}

/**
 * Draws the alternative images for a batch, one seed per sample (so a sample's
 * draws do not depend on the batch it is in).
 *
 * @param x - images `[N, H, W, C]` in the user's pixel range.
 * @param range - the classifier's input range `[lo, hi]`.
 * @param sampleSeeds - N 32-bit seeds.
 */
export function alternativeImages(
  x: tf.Tensor4D,
  range: readonly [number, number],
  sampleSeeds: readonly number[],
  o: AlternativeOptions,
): Alternatives {
  const [n, h, w, c] = x.shape;
  const half = (range[1] - range[0]) / 2;
  const mid = (range[1] + range[0]) / 2;
  const draws = sampleSeeds.map((s) => alternativeDraw(s, c, o));
  return tf.tidy(() => {
    const noise = (sd: number, k: number): tf.Tensor4D | null => (sd === 0 ? null
      : tf.concat(sampleSeeds.map((s) => tf.randomNormal([1, h, w, c], 0, sd * half, 'float32', hashSeed(s, k))), 0) as tf.Tensor4D);
    const xf = tf.cast(x, 'float32') as tf.Tensor4D;
    const imgNoise = noise(o.imageNoise, 1);
    const images = imgNoise == null ? xf : tf.add(xf, imgNoise) as tf.Tensor4D;
    const colours = tf.tensor4d(draws.flatMap((d) => d.colour.map((v) => mid + v * half)), [n, 1, 1, c]);
    const altNoise = noise(o.noiseStd, 2);
    const coloured = altNoise == null ? tf.mul(tf.ones([n, h, w, c]), colours) : tf.add(altNoise, colours);
    const useBlur = draws.some((d) => d.blurred);
    let alt: tf.Tensor4D;
    if (useBlur) {
      const blurred = gaussianBlur(images, { kernelSize: o.blurKernel, sigma: o.blurSigma });
      const which = tf.tensor4d(draws.map((d) => (d.blurred ? 1 : 0)), [n, 1, 1, 1]);
      alt = tf.add(tf.mul(blurred, which), tf.mul(coloured, tf.sub(1, which))) as tf.Tensor4D;
    } else {
      alt = coloured as tf.Tensor4D;
    }
    return { images, alt };
  });
}
