/**
 * Turning a stream of labelled images into training batches for the masking
 * model. Internal to @saliency/methods apart from the item type.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SaliencyError, type Classifier } from '@saliency/core/base';

/**
 * One item of masking-model training data.
 *
 * - `image` `[H, W, C]` with `label` the class, or every class present (a
 *   multi-label image: the real target is drawn among them, a fake one outside them);
 * - or `image` `[n, H, W, C]` with `label` one class per image (or one class for all).
 *
 * Images are at the classifier's input size, in its input range. The trainer
 * DISPOSES every tensor it receives once it is copied into a batch (as
 * `model.fitDataset` does): yield fresh tensors, or `tf.clone` kept ones.
 */
export interface MaskingSample {
  /** One image `[H, W, C]` or a batch `[n, H, W, C]`. */
  image: tf.Tensor3D | tf.Tensor4D;
  /** Class index (or indices); see {@link MaskingSample}. */
  label: number | readonly number[];
}

/** Training data: an (async) iterable of samples, or a function returning a fresh one per pass (epoch). */
export type MaskingData =
  | AsyncIterable<MaskingSample>
  | Iterable<MaskingSample>
  | (() => AsyncIterable<MaskingSample> | Iterable<MaskingSample>);

/** A batch: images `[B, H, W, C]` and, per image, the classes present. */
export interface Batch {
  images: tf.Tensor4D;
  labels: number[][];
}

type AnyIterator = AsyncIterator<MaskingSample> | Iterator<MaskingSample>;

function iteratorOf(source: AsyncIterable<MaskingSample> | Iterable<MaskingSample>): AnyIterator {
  const s = source as Partial<AsyncIterable<MaskingSample> & Iterable<MaskingSample>>;
  if (typeof s[Symbol.asyncIterator] === 'function') return (s as AsyncIterable<MaskingSample>)[Symbol.asyncIterator]();
  if (typeof s[Symbol.iterator] === 'function') return (s as Iterable<MaskingSample>)[Symbol.iterator]();
  throw new SaliencyError('BAD_OPTION', 'trainMaskingModel: data must be an (async) iterable of { image, label } or a function returning one.');
}

/** Pulls single images from the data, restarting it when it ends, and groups them into batches. */
export class BatchReader {
  private it: AnyIterator | null = null;
  private queue: { image: tf.Tensor4D; labels: number[] }[] = [];
  private sinceRestart = 0;

  constructor(private readonly data: MaskingData, private readonly classifier: Classifier) {}

  private open(): AnyIterator {
    const src = typeof this.data === 'function' ? this.data() : this.data;
    this.sinceRestart = 0;
    return iteratorOf(src);
  }

  private labelsOf(label: unknown, n: number, single: boolean): number[][] {
    const k = this.classifier.numClasses;
    const check = (c: unknown): number => {
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c >= k) {
        throw new SaliencyError('BAD_TARGET', `trainMaskingModel: label ${String(c)} is not a class index in 0…${k - 1}.`);
      }
      return c;
    };
    if (single) {
      const list = Array.isArray(label) ? label.map(check) : [check(label)];
      if (list.length === 0 || list.length >= k) {
        throw new SaliencyError('BAD_TARGET', `trainMaskingModel: an image needs 1…${k - 1} classes present (a fake label must exist); got ${list.length}.`);
      }
      return [list];
    }
    if (Array.isArray(label)) {
      if (label.length !== n) throw new SaliencyError('BAD_TARGET', `trainMaskingModel: a batch of ${n} images needs ${n} labels; got ${label.length}.`);
      return label.map((c) => [check(c)]);
    }
    const c = check(label);
    return new Array(n).fill(0).map(() => [c]);
  }

  private accept(sample: MaskingSample): void {
    const img = sample?.image;
    if (!(img instanceof tf.Tensor)) throw new SaliencyError('BAD_OPTION', 'trainMaskingModel: each data item must be { image: tf.Tensor, label }.');
    try {
      const [H, W] = this.classifier.inputSize;
      const C = this.classifier.channels;
      if (img.rank !== 3 && img.rank !== 4) throw new SaliencyError('BAD_RANK', `trainMaskingModel: an image must be [H, W, C] or [n, H, W, C]; got [${img.shape.join(', ')}].`);
      const s = img.rank === 3 ? [1, ...img.shape] : img.shape;
      if (s[1] !== H || s[2] !== W) throw new SaliencyError('BAD_SIZE', `trainMaskingModel: images must be ${H}×${W} (the classifier's input size); got [${img.shape.join(', ')}].`, 'BAD_RANK');
      if (s[3] !== C) throw new SaliencyError('BAD_CHANNELS', `trainMaskingModel: the classifier takes ${C} channel(s); the image has ${s[3]}.`);
      const labels = this.labelsOf(sample.label, s[0], img.rank === 3);
      const batch = tf.tidy(() => tf.cast(img.rank === 3 ? tf.expandDims(img, 0) : img, 'float32') as tf.Tensor4D);
      if (s[0] === 1) {
        this.queue.push({ image: batch, labels: labels[0] });
      } else {
        const parts = tf.split(batch, s[0], 0) as tf.Tensor4D[];
        batch.dispose();
        parts.forEach((p, i) => this.queue.push({ image: p, labels: labels[i] }));
      }
    } finally {
      img.dispose();
    }
  }

  /** The next batch of `size` images (the caller disposes `images`). */
  async next(size: number): Promise<Batch> {
    while (this.queue.length < size) {
      if (this.it == null) this.it = this.open();
      const r = await this.it.next();
      if (r.done === true) {
        const empty = this.sinceRestart === 0;
        this.it = null;
        if (empty) {
          throw new SaliencyError('BAD_OPTION', 'trainMaskingModel: the data yielded no images. Pass a function that returns a fresh iterable for every pass (a generator object can be read only once), or enough items for all steps.');
        }
        continue;
      }
      this.sinceRestart++;
      this.accept(r.value);
    }
    const take = this.queue.splice(0, size);
    const images = take.length === 1 ? take[0].image : tf.concat(take.map((t) => t.image), 0) as tf.Tensor4D;
    if (take.length > 1) for (const t of take) t.image.dispose();
    return { images, labels: take.map((t) => t.labels) };
  }

  /** Frees queued images and closes the iterator. */
  async close(): Promise<void> {
    for (const q of this.queue) q.image.dispose();
    this.queue = [];
    const it = this.it;
    this.it = null;
    if (it != null && typeof it.return === 'function') {
      try {
        await it.return();
      } catch {
        // closing is best effort
      }
    }
  }
}
