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
  /**
   * Layers models: fold each inference-mode `BatchNormalization` into the `Conv2D` or
   * `DepthwiseConv2D` before it, so a forward pass runs one fused kernel instead of two
   * (default `true`; only pairs where the fold is exact are folded: the convolution is
   * linear, channels last, and its output feeds nothing but the batch-norm). Outside a
   * gradient tape the fused kernel also takes in a `ZeroPadding2D` before a `'valid'`
   * convolution (as its explicit padding) and a ReLU or ReLU6 layer after the batch-norm
   * (as its fused activation), where nothing else reads the tensors in between. Outputs,
   * features and input gradients are those of the unfolded model up to float rounding.
   * Graph models are folded by the converter already; other wrappers ignore this.
   */
  foldBatchNorm?: boolean;
}
