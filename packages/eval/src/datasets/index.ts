/*
 * Generated data sets with exact ground truth (exported by `@saliency/eval`).
 */
export * from './generated_set.js';
export { MNIST_TRAIN_FRACTION, MNIST_SIDE, mnistDigit, mnistDigitCount, mnistSplitRange, type DigitSplit } from './mnist_digits.js';
export { INK_ALPHA, type Rgb } from './render.js';
