/**
 * Training data of the face masker: jittered crops of the faces in face-api's sample photographs,
 * each labelled with the expression the face-expression classifier itself reads on that crop.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError, type Classifier, type MaskingSample } from '@saliency/core';
import { cropFace, sampleFaces, type SampleFaceImage } from '@saliency/models';
import { readImage } from '@saliency/node';
import { mixSeeds, seededRandom } from './datasets/random.js';

/** The sample photograph held out of the face masker's training (its faces test the trained model). */
export const FACE_MASKER_HOLDOUT = 'demo/sample6.jpg';

/** Options of {@link faceMaskingData}. */
export interface FaceMaskingDataOptions {
  /** Seed of the jitter (same seed → same stream). Default 1. */
  seed?: number;
  /** Photographs to draw faces from (default: every sample photograph but {@link FACE_MASKER_HOLDOUT}). */
  images?: readonly SampleFaceImage[];
}

/** Crops labelled per classifier pass. */
const LABEL_BATCH = 8;

/** A face with room around it: a 2×-box square crop at twice the classifier's input size, kept as bytes. */
interface FaceContext {
  pixels: Float32Array;
  side: number;
}

/**
 * An endless stream of face crops at the classifier's input size for `trainMaskingModel`:
 * a face drawn uniformly, its square box scaled by 0.9–1.35 and shifted by up to 12 % of its side,
 * mirrored half the time, brightness × 0.8–1.2; labelled with the classifier's top class on that
 * crop (so the masker learns where the classifier looks for what it reads; every other class is a
 * "fake" label for the trainer). The photographs are decoded once; no tensor outlives a sample.
 *
 * @param classifier - the face-expression classifier (its input size sets the crop size).
 * @param opts - see {@link FaceMaskingDataOptions}.
 * @throws SaliencyError `BAD_OPTION` when the photographs hold no face.
 *
 * @example
 * ```ts
 * const { classifier } = await loadFaceExpressionClassifier();
 * await trainMaskingModel(masker, () => faceMaskingData(classifier), { steps: 1000 });
 * ```
 */
export async function* faceMaskingData(classifier: Classifier, opts: FaceMaskingDataOptions = {}): AsyncGenerator<MaskingSample> {
  const images = opts.images ?? sampleFaces().filter((s) => s.file !== FACE_MASKER_HOLDOUT);
  const size = classifier.inputSize[0];
  const contexts: FaceContext[] = [];
  for (const img of images) {
    const decoded = await readImage(img.path);
    const full = tf.tensor3d(decoded.data, [decoded.height, decoded.width, 3], 'int32');
    try {
      for (const face of img.faces) {
        const { x, y, width, height } = face.box;
        const s = Math.max(width, height);
        const crop = cropFace(full, { x: x + width / 2 - s, y: y + height / 2 - s, width: 2 * s, height: 2 * s }, 2 * size);
        contexts.push({ pixels: crop.dataSync() as Float32Array, side: 2 * size });
        crop.dispose();
      }
    } finally {
      full.dispose();
    }
  }
  if (contexts.length === 0) throw new SaliencyError('BAD_OPTION', 'faceMaskingData: the photographs hold no face.');
  const seed = opts.seed ?? 1;
  /** Crop `i` of the stream (its jitter from its own seeded draw). */
  const crop = (i: number): tf.Tensor3D => {
    const rand = seededRandom(mixSeeds(seed, i));
    const c = contexts[Math.floor(rand() * contexts.length)];
    const half = c.side / 2; // the face box spans the middle half of the context
    const side = half * (0.9 + 0.45 * rand());
    const cx = half + (rand() - 0.5) * 0.24 * half;
    const cy = half + (rand() - 0.5) * 0.24 * half;
    const flip = rand() < 0.5;
    const gain = 0.8 + 0.4 * rand();
    return tf.tidy(() => {
      let x = cropFace(tf.tensor3d(c.pixels, [c.side, c.side, 3]), { x: cx - side / 2, y: cy - side / 2, width: side, height: side }, size);
      if (flip) x = tf.reverse(x, 1);
      return tf.clipByValue(tf.mul(x, gain), 0, 255) as tf.Tensor3D;
    });
  };
  // Crops are labelled LABEL_BATCH at a time: one classifier pass and one read-back per chunk.
  for (let start = 0; ; start += LABEL_BATCH) {
    const images = Array.from({ length: LABEL_BATCH }, (_, k) => crop(start + k));
    let next = 0;
    try {
      const top = tf.tidy(() => tf.argMax(classifier.logits(tf.stack(images) as tf.Tensor4D), 1));
      const labels = await top.data();
      top.dispose();
      while (next < images.length) {
        const k = next++; // counted as handed out before the yield: a consumer that stops here owns it
        yield { image: images[k], label: [labels[k]] };
      }
    } finally {
      tf.dispose(images.slice(next)); // the crops not handed out (the consumer stopped early, or the pass threw)
    }
  }
}
