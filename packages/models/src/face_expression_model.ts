/*
 * The face-expression classifier of `@vladmandic/face-api` (MIT), written as a
 * tfjs-layers functional model so that every intermediate activation is a
 * named layer (Grad-CAM, Group-CAM, Score-CAM can pick any of them).
 *
 * Architecture (face-api's `FaceFeatureExtractor` + `FaceExpressionNet`):
 * four densely connected blocks `dense0`…`dense3`. In block `i`:
 * `out1 = relu(conv0(x))` with `conv0` at stride 2 (a plain 3×3 conv with bias
 * in `dense0`, a separable 3×3 conv with bias in the others);
 * `out2 = conv1(out1)`, `out3 = conv2(relu(out1 + out2))`,
 * `out4 = conv3(relu(out1 + out2 + out3))` (separable 3×3, stride 1, 'same',
 * with bias); the block returns `relu(out1 + out2 + out3 + out4)`.
 * Spatial sizes 112 → 56 → 28 → 14 → 7, channels 32, 64, 128, 256. Then
 * average pooling 7×7 stride 2 'valid' (on a 7×7 map: the global mean),
 * flatten, and the dense layer `fc` to 7 logits.
 *
 * Backend-neutral: imports only tfjs-core and tfjs-layers.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * The 7 expression classes, in the order of the model's outputs.
 *
 * @example
 * ```ts
 * const name = FACE_EXPRESSION_CLASSES[argmax]; // e.g. 'happy'
 * ```
 */
export const FACE_EXPRESSION_CLASSES = [
  'neutral',
  'happy',
  'sad',
  'angry',
  'fearful',
  'disgusted',
  'surprised',
] as const;

/** One of {@link FACE_EXPRESSION_CLASSES}. */
export type FaceExpressionClass = (typeof FACE_EXPRESSION_CLASSES)[number];

/**
 * Side of the square input the model takes, in pixels.
 *
 * @example
 * ```ts
 * const face = cropFace(image, box, FACE_EXPRESSION_INPUT_SIZE);
 * ```
 */
export const FACE_EXPRESSION_INPUT_SIZE = 112;

/**
 * Per-channel RGB mean (0–255 scale) subtracted before dividing by 255.
 *
 * @example
 * ```ts
 * const x = tf.div(tf.sub(pixels, FACE_EXPRESSION_MEAN), 255);
 * ```
 */
export const FACE_EXPRESSION_MEAN: readonly [number, number, number] = [122.782, 117.001, 104.298];

/**
 * Name of the last layer with a 4-D output (`[N, 7, 7, 256]`, the output of
 * block `dense3`) — the default Grad-CAM layer. The pooling layer after it is
 * a global average pooling with a 2-D output.
 *
 * @example
 * ```ts
 * const access = classifier.at(FACE_EXPRESSION_LAST_CONV_LAYER);
 * ```
 */
export const FACE_EXPRESSION_LAST_CONV_LAYER = 'dense3';

/** A face box in pixels of the full image (top-left corner, width, height). */
export interface FaceBox {
  /** Left edge, pixels. */
  x: number;
  /** Top edge, pixels. */
  y: number;
  /** Width, pixels. */
  width: number;
  /** Height, pixels. */
  height: number;
}

const BLOCK_CHANNELS = [32, 64, 128, 256] as const;

function sepConv(name: string, filters: number, strides: number): tfl.layers.Layer {
  return tfl.layers.separableConv2d({
    name,
    filters,
    kernelSize: 3,
    strides,
    padding: 'same',
    depthMultiplier: 1,
    useBias: true,
  });
}

function relu(name: string): tfl.layers.Layer {
  return tfl.layers.activation({ name, activation: 'relu' });
}

function apply(layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]): tfl.SymbolicTensor {
  return layer.apply(x) as tfl.SymbolicTensor;
}

function denseBlock(x: tfl.SymbolicTensor, i: number): tfl.SymbolicTensor {
  const p = `dense${i}`;
  const c = BLOCK_CHANNELS[i] as number;
  const conv0 =
    i === 0
      ? tfl.layers.conv2d({ name: `${p}_conv0`, filters: c, kernelSize: 3, strides: 2, padding: 'same', useBias: true })
      : sepConv(`${p}_conv0`, c, 2);
  const out1 = apply(relu(`${p}_relu0`), apply(conv0, x));
  const out2 = apply(sepConv(`${p}_conv1`, c, 1), out1);
  const sum2 = apply(tfl.layers.add({ name: `${p}_add1` }), [out1, out2]);
  const out3 = apply(sepConv(`${p}_conv2`, c, 1), apply(relu(`${p}_relu1`), sum2));
  const sum3 = apply(tfl.layers.add({ name: `${p}_add2` }), [out1, out2, out3]);
  const out4 = apply(sepConv(`${p}_conv3`, c, 1), apply(relu(`${p}_relu2`), sum3));
  const sum4 = apply(tfl.layers.add({ name: `${p}_add3` }), [out1, out2, out3, out4]);
  return apply(relu(p), sum4);
}

/**
 * Builds the face-expression network (untrained) as a functional layers model.
 *
 * Input `[N, 112, 112, 3]`, ALREADY preprocessed: `(pixel − FACE_EXPRESSION_MEAN) / 255`
 * (see {@link preprocessFaceExpression}). Output `[N, 7]` logits (no softmax).
 *
 * Layer names: `dense{i}_conv{j}` (the convolutions, linear), `dense{i}_relu{j}`,
 * `dense{i}_add{j}`, `dense{i}` (the block output, a ReLU layer), `avg_pool`,
 * `fc`. The LAST layer with a 4-D output is `dense3` (`[N, 7, 7, 256]`):
 * face-api's 7×7/stride-2 'valid' average pooling on a 7×7 map is the global
 * mean, so it is written as `globalAveragePooling2d` (output `[N, 256]`), which
 * also does the flatten.
 *
 * @returns a model with freshly initialised weights; load the real ones with
 * {@link loadFaceExpressionWeights}.
 *
 * @example
 * ```ts
 * const model = buildFaceExpressionModel();
 * loadFaceExpressionWeights(model, manifest, weightData);
 * const logits = model.predict(preprocessFaceExpression(faces)) as tf.Tensor2D;
 * ```
 */
export function buildFaceExpressionModel(): tfl.LayersModel {
  const input = tfl.input({
    name: 'input',
    shape: [FACE_EXPRESSION_INPUT_SIZE, FACE_EXPRESSION_INPUT_SIZE, 3],
  });
  let x = input;
  for (let i = 0; i < BLOCK_CHANNELS.length; i++) x = denseBlock(x, i);
  const pooled = apply(tfl.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
  const logits = apply(tfl.layers.dense({ name: 'fc', units: FACE_EXPRESSION_CLASSES.length, useBias: true }), pooled);
  return tfl.model({ name: 'face_expression', inputs: input, outputs: logits });
}

/** The manifest weight names each named layer takes, in the layer's own weight order. */
function weightNamesFor(layer: tfl.layers.Layer): string[] | null {
  if (layer.name === 'fc') return ['fc/weights', 'fc/bias'];
  const m = /^dense(\d)_conv(\d)$/.exec(layer.name);
  if (!m) return null;
  const base = `dense${m[1]}/conv${m[2]}`;
  return layer.getClassName() === 'Conv2D'
    ? [`${base}/filters`, `${base}/bias`]
    : [`${base}/depthwise_filter`, `${base}/pointwise_filter`, `${base}/bias`];
}

/**
 * Decodes face-api's `face_expression_model` weights and sets them on a model
 * made by {@link buildFaceExpressionModel}. Temporaries are disposed: afterwards
 * `tf.memory().numTensors` has grown by nothing (the variables already exist).
 *
 * @param model - from {@link buildFaceExpressionModel}.
 * @param manifest - the parsed `face_expression_model-weights_manifest.json`.
 * @param data - the bytes of the manifest's shard(s), concatenated in order
 *   (`face_expression_model.bin`).
 * @throws Error when a weight is missing, unused, or has the wrong shape.
 *
 * @example
 * ```ts
 * const manifest = await (await fetch(`${base}/face_expression_model-weights_manifest.json`)).json();
 * const data = await (await fetch(`${base}/face_expression_model.bin`)).arrayBuffer();
 * const model = buildFaceExpressionModel();
 * loadFaceExpressionWeights(model, manifest, data);
 * ```
 */
export function loadFaceExpressionWeights(
  model: tfl.LayersModel,
  manifest: tf.io.WeightsManifestConfig,
  data: ArrayBuffer,
): void {
  const specs = manifest.flatMap((group) => group.weights);
  const decoded = tf.io.decodeWeights(data, specs);
  try {
    const used = new Set<string>();
    for (const layer of model.layers) {
      const names = weightNamesFor(layer);
      if (!names) continue;
      const values = names.map((n) => {
        const t = decoded[n];
        if (!t) throw new Error(`face-expression weights: '${n}' missing from the manifest (layer ${layer.name})`);
        used.add(n);
        return t;
      });
      const expected = layer.getWeights(false).map((w) => w.shape.join('x'));
      const got = values.map((v) => v.shape.join('x'));
      if (expected.join() !== got.join()) {
        throw new Error(
          `face-expression weights: layer ${layer.name} expects shapes [${expected.join(', ')}], got [${got.join(', ')}]`,
        );
      }
      layer.setWeights(values);
    }
    const unused = Object.keys(decoded).filter((n) => !used.has(n));
    if (unused.length > 0) throw new Error(`face-expression weights: unused weights ${unused.join(', ')}`);
  } finally {
    tf.dispose(decoded);
  }
}

/**
 * Maps 0–255 RGB faces to the model's input: `(x − FACE_EXPRESSION_MEAN) / 255`.
 * The caller owns the result.
 *
 * @param pixels - `[N, 112, 112, 3]` (or any `[..., 3]`) in 0–255.
 * @returns the normalised tensor, float32, same shape.
 *
 * @example
 * ```ts
 * const probs = tf.softmax(model.predict(preprocessFaceExpression(faces)) as tf.Tensor2D);
 * ```
 */
export function preprocessFaceExpression<T extends tf.Tensor>(pixels: T): T {
  return tf.tidy(() => tf.div(tf.sub(tf.cast(pixels, 'float32'), tf.tensor1d([...FACE_EXPRESSION_MEAN])), 255) as T);
}

/**
 * Crops a face the way the whole project does: the box padded to a square
 * centred on it (side = round(max(w, h)), top-left = round(centre − side/2)),
 * zero outside the image, then resized bilinearly (`alignCorners` false,
 * `halfPixelCenters` true) to `size`×`size`. Pixel range is kept (0–255 in →
 * 0–255 out), float32. The caller owns the result.
 *
 * Note: face-api itself crops differently (it slices the box and zero-pads
 * its short side); use this convention for everything in `@saliency`.
 *
 * @param image - `[H, W, C]`, any numeric dtype.
 * @param box - face box in pixels of `image`.
 * @param size - output side, default 112.
 * @returns `[size, size, C]` float32.
 *
 * @example
 * ```ts
 * const face = cropFace(image, { x: 414, y: 354, width: 177, height: 239 });
 * const x = preprocessFaceExpression(face.expandDims(0));
 * ```
 */
export function cropFace(image: tf.Tensor3D, box: FaceBox, size: number = FACE_EXPRESSION_INPUT_SIZE): tf.Tensor3D {
  return tf.tidy(() => {
    const [H, W, C] = image.shape;
    const side = Math.max(1, Math.round(Math.max(box.width, box.height)));
    const x0 = Math.round(box.x + box.width / 2 - side / 2);
    const y0 = Math.round(box.y + box.height / 2 - side / 2);
    const clampX = (v: number): number => Math.min(Math.max(v, 0), W);
    const clampY = (v: number): number => Math.min(Math.max(v, 0), H);
    const sx0 = clampX(x0);
    const sx1 = clampX(x0 + side);
    const sy0 = clampY(y0);
    const sy1 = clampY(y0 + side);
    if (sx1 <= sx0 || sy1 <= sy0) return tf.zeros([size, size, C]) as tf.Tensor3D;
    const inside = tf.cast(tf.slice(image, [sy0, sx0, 0], [sy1 - sy0, sx1 - sx0, C]), 'float32');
    const padded = tf.pad(inside, [
      [sy0 - y0, y0 + side - sy1],
      [sx0 - x0, x0 + side - sx1],
      [0, 0],
    ]);
    return tf.image.resizeBilinear(padded, [size, size], false, true);
  });
}
