/*
 * Loads the MobileNetV2 classifiers that `nsfwjs@4.4.0` (MIT) ships inside its
 * npm package (no network). nsfwjs stores each model as CommonJS modules under
 * `dist/models/<name>/`: `model.min.js` exports the model JSON
 * (`{modelTopology, weightsManifest, …}`) and `group1-shardKofN.min.js` each
 * export one base64 weight shard. Use only neutral photographs with these models.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { SaliencyError } from '@saliency/core/base';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * nsfwjs's 5 classes, in the order of the models' outputs (nsfwjs `NSFW_CLASSES`).
 *
 * @example
 * ```ts
 * const name = NSFW_CLASSES[argmax]; // 'Neutral' for an ordinary photo
 * ```
 */
export const NSFW_CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] as const;

/**
 * Input side of both MobileNetV2 models (`[N, 224, 224, 3]`).
 *
 * @example
 * ```ts
 * const x = tf.image.resizeBilinear(image, [NSFW_INPUT_SIZE, NSFW_INPUT_SIZE]);
 * ```
 */
export const NSFW_INPUT_SIZE = 224;

/**
 * Name of the last layer of {@link loadNsfwMobileNetV2}'s model whose output has
 * useful spatial extent (`out_relu`, `[N, 7, 7, 1280]`). Note: the layer after it,
 * `average_pooling2d_1` (7×7, stride 7), is also 4-D but `[N, 1, 1, 1280]`, so
 * "last 4-D layer" alone would pick the pooled map.
 *
 * @example
 * ```ts
 * const access = classifier.at(NSFW_MOBILENET_V2_LAST_CONV_LAYER);
 * ```
 */
export const NSFW_MOBILENET_V2_LAST_CONV_LAYER = 'out_relu';

/**
 * Name of {@link loadNsfwMobileNetV2Mid}'s last 4-D node: the fused conv + ReLU6
 * `Conv_1` (`[N, 7, 7, 1792]`), the input of its 7×7 average pooling.
 *
 * @example
 * ```ts
 * const features = graphModel.execute(x, NSFW_MOBILENET_V2_MID_LAST_CONV_NODE) as tf.Tensor4D;
 * ```
 */
export const NSFW_MOBILENET_V2_MID_LAST_CONV_NODE =
  'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/' +
  'StatefulPartitionedCall/predict/MobilenetV2/Conv_1/Relu6';

/**
 * Preprocessing both models expect, as nsfwjs applies it: float pixels ÷ 255
 * (RGB in [0, 1]). The caller owns the result.
 *
 * @param pixels - images in 0–255, any shape ending in 3 channels.
 * @returns float32 tensor in [0, 1].
 *
 * @example
 * ```ts
 * const probs = model.predict(preprocessNsfw(images)) as tf.Tensor2D;
 * ```
 */
export function preprocessNsfw<T extends tf.Tensor>(pixels: T): T {
  return tf.tidy(() => tf.div(tf.cast(pixels, 'float32'), 255) as T);
}

interface NsfwModelJson {
  modelTopology: tf.io.ModelJSON['modelTopology'];
  weightsManifest: tf.io.WeightsManifestConfig;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  userDefinedMetadata?: tf.io.ModelArtifacts['userDefinedMetadata'];
}

/**
 * Absolute path of the installed `nsfwjs` package's root folder. (Its `exports`
 * map does not expose `package.json`, so the main entry is resolved and the
 * folder found by walking up to the `package.json` named `nsfwjs`.)
 *
 * @example
 * ```ts
 * const dir = join(nsfwjsDir(), 'dist/models/mobilenet_v2');
 * ```
 */
export function nsfwjsDir(): string {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('nsfwjs');
  } catch {
    throw new SaliencyError('MISSING_PACKAGE', "nsfwjs's MobileNetV2 needs the nsfwjs package, an optional peer of @saliency/models: npm install nsfwjs@4.4.0");
  }
  let dir = dirname(entry);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'nsfwjs') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('nsfwjs: package root not found; is nsfwjs installed?');
    dir = up;
  }
}

/** Requires one of nsfwjs's CommonJS model modules, then drops it from the require cache. */
function requireOnce<T>(file: string): T {
  const require = createRequire(import.meta.url);
  const resolved = require.resolve(file);
  try {
    return require(resolved) as T;
  } finally {
    delete require.cache[resolved];
  }
}

/** The model JSON + concatenated weight bytes of `dist/models/<name>`, as in-memory artifacts. */
function readArtifacts(name: string): tf.io.ModelArtifacts {
  const dir = join(nsfwjsDir(), 'dist', 'models', name);
  const json = requireOnce<NsfwModelJson>(join(dir, 'model.min.js'));
  const shards = json.weightsManifest
    .flatMap((group) => group.paths)
    .map((p) => Buffer.from(requireOnce<string>(join(dir, `${p}.min.js`)), 'base64'));
  const bytes = Buffer.concat(shards);
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
    weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
  };
  if (json.format !== undefined) artifacts.format = json.format;
  if (json.generatedBy !== undefined) artifacts.generatedBy = json.generatedBy;
  if (json.convertedBy !== undefined) artifacts.convertedBy = json.convertedBy;
  if (json.userDefinedMetadata !== undefined) artifacts.userDefinedMetadata = json.userDefinedMetadata;
  return artifacts;
}

/**
 * nsfwjs's default model, `MobileNetV2` — a Keras layers model, 224×224 RGB,
 * input = pixel / 255 (see {@link preprocessNsfw}), 5 classes
 * ({@link NSFW_CLASSES}). Its last layer `dense_3` ENDS IN SOFTMAX: the output
 * is probabilities, not logits. The caller disposes the model.
 *
 * @returns the loaded layers model.
 *
 * @example
 * ```ts
 * const model = await loadNsfwMobileNetV2();
 * const probs = model.predict(preprocessNsfw(images)) as tf.Tensor2D;
 * model.dispose();
 * ```
 */
export async function loadNsfwMobileNetV2(): Promise<LayersModel> {
  return loadLayersModel(tf.io.fromMemory(readArtifacts('mobilenet_v2')));
}

/**
 * nsfwjs's `MobileNetV2Mid` — a converted TF-Hub graph model (MobileNetV2 with a
 * 1.4 width multiplier, fused conv + ReLU6 kernels), input `[N, 224, 224, 3]`
 * = pixel / 255 (the graph itself maps it to [−1, 1]), output `[N, 5]`
 * softmax probabilities ({@link NSFW_CLASSES}). Its last 4-D node is
 * {@link NSFW_MOBILENET_V2_MID_LAST_CONV_NODE} (`[N, 7, 7, 1792]`). The caller disposes the model.
 *
 * @returns the loaded graph model.
 *
 * @example
 * ```ts
 * const model = await loadNsfwMobileNetV2Mid();
 * const probs = model.predict(preprocessNsfw(images)) as tf.Tensor2D;
 * model.dispose();
 * ```
 */
export async function loadNsfwMobileNetV2Mid(): Promise<GraphModel> {
  return loadGraphModel(tf.io.fromMemory(readArtifacts('mobilenet_v2_mid')));
}
