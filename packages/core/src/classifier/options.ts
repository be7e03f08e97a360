import type { Preprocess } from './preprocess.js';

/** Options shared by every classifier wrapper. */
export interface ClassifierOptions {
  /** Model input `[height, width]`; read from the model when it declares one. */
  inputSize?: readonly [number, number];
  /** Input channels; read from the model when it declares them, else 3. */
  channels?: number;
  /** Number of classes; read from the model's output when it declares it. */
  numClasses?: number;
  /** Class names for reports, `numClasses` long. */
  classNames?: readonly string[];
  /** User pixels → model input. Default: identity on `[0, 255]` input. */
  preprocess?: Preprocess;
  /**
   * What the model outputs.
   * - `'auto'` (default): logits, except that a layers model whose last layer ends in a softmax has that softmax stripped.
   * - `'logits'`: pre-softmax scores, used as they are.
   * - `'probabilities'`: softmax outputs; the wrapper uses their log as logits (equal up to a per-image constant).
   */
  outputs?: 'auto' | 'logits' | 'probabilities';
}
