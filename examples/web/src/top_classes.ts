/* The classifier's top classes on the whole image (one forward pass; tensors freed). */
import * as tf from '@tensorflow/tfjs-core';
import { imageToTensor, type Classifier, type ImageLike } from '@saliency/core/base';

/** One line of the top-classes list. */
export interface ClassScore {
  index: number;
  name: string;
  probability: number;
}

/** All classes with their probabilities, highest first. The image is resized to the model input as `explain()` does. */
export async function classScores(classifier: Classifier, image: ImageLike): Promise<ClassScore[]> {
  const probs = tf.tidy(() => {
    const x = imageToTensor(image, classifier.inputRange, classifier.channels);
    const [h, w] = classifier.inputSize;
    const resized = x.shape[1] === h && x.shape[2] === w ? x : tf.image.resizeBilinear(x, [h, w], false, true);
    return classifier.probabilities(resized);
  });
  const values = await probs.data();
  probs.dispose();
  return Array.from(values, (probability, index) => ({
    index,
    name: classifier.classNames?.[index] ?? `class ${index}`,
    probability,
  })).sort((a, b) => b.probability - a.probability);
}
