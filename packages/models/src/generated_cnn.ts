/*
 * The small digit CNN trained on the generated localisation set
 * (scripts/train-generated-cnn.mjs), shipped as tfjs layers-format weights in
 * this package's assets/generated-cnn/.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { fromLayersModel } from '@saliency/core/base';
import { findAsset, readModelFolder } from './assets.js';
import type { BundledClassifier } from './classifiers.js';

/**
 * The generated-digit CNN's classes, in output order: the digits `'0'` … `'9'`.
 *
 * @example
 * ```ts
 * const name = DIGIT_CLASSES[sample.label]; // '7'
 * ```
 */
export const DIGIT_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/**
 * Input side of the generated-digit CNN (`[N, 96, 96, 3]`).
 *
 * @example
 * ```ts
 * const x = tf.image.resizeBilinear(image, [GENERATED_CNN_INPUT_SIZE, GENERATED_CNN_INPUT_SIZE]);
 * ```
 */
export const GENERATED_CNN_INPUT_SIZE = 96;

/**
 * Name of the generated-digit CNN's last conv layer (`[N, 12, 12, 128]`,
 * ReLU), followed only by global average pooling and the dense logits, so
 * CAM (Zhou et al.) is exact there and Grad-CAM equals it.
 *
 * @example
 * ```ts
 * const maps = await gradCam({ layer: GENERATED_CNN_CAM_LAYER }).explain(classifier, x, [label]);
 * ```
 */
export const GENERATED_CNN_CAM_LAYER = 'cam';

/**
 * Loads the generated-digit CNN as a bare layers model from
 * `assets/generated-cnn/model.json` + `weights.bin`: input `[N, 96, 96, 3]`
 * RGB in [0, 1] (pixels ÷ 255), output `[N, 10]` logits (no softmax).
 * The caller disposes the model.
 *
 * @returns the loaded layers model.
 *
 * @example
 * ```ts
 * const model = await loadGeneratedCnnModel();
 * const logits = model.predict(tf.div(images, 255)) as tf.Tensor2D;
 * model.dispose();
 * ```
 */
export async function loadGeneratedCnnModel(): Promise<LayersModel> {
  const dir = findAsset('generated-cnn');
  return loadLayersModel(tf.io.fromMemory(await readModelFolder(dir)));
}

/**
 * The small CNN trained on the generated localisation set
 * (`generateLocalisationSet`'s train split): 96×96 RGB images in
 * 0–255, 10 classes `'0'` … `'9'`, logits; CAM layer `'cam'`. Its held-out
 * accuracy is in `assets/generated-cnn/README.md`.
 *
 * @returns the classifier, its CAM layer and `dispose()`.
 *
 * @example
 * ```ts
 * const { classifier, camLayer, dispose } = await loadGeneratedClassifier();
 * const [sample] = generateLocalisationSet({ seed: 1, count: 1, split: 'test' });
 * const image = sampleToTensor(sample);
 * const map = await explain(gradCam({ layer: camLayer }), classifier, image, { target: sample.label });
 * dispose();
 * ```
 */
export async function loadGeneratedClassifier(): Promise<BundledClassifier> {
  const model = await loadGeneratedCnnModel();
  const classifier = fromLayersModel(model, {
    classNames: DIGIT_CLASSES,
    preprocess: { inputRange: [0, 255], modelRange: [0, 1] },
  });
  return { classifier, camLayer: GENERATED_CNN_CAM_LAYER, dispose: () => model.dispose() };
}
