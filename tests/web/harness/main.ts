// The browser side of tests/web: a bundle (built by Vite in the tests) that puts the real libraries
// on `window.lib` and a few drivers on `window.harness`, so the tests can run them with page.evaluate.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as core from '@saliency/core/base';
import * as faceModel from '@saliency/models/browser';
import { gradCam, vanillaGradient } from '@saliency/methods';
import { rise } from '@saliency/methods';
import * as web from '@saliency/web';

/** The method factories the harness can run by name. */
const METHODS = { gradcam: gradCam, gradient: vanillaGradient, rise } as const;

/** One run of a method on the face classifier. */
export interface RunSpec {
  method: keyof typeof METHODS;
  options?: Record<string, unknown>;
  /** `n × 112 × 112 × 3` pixels in 0–255, row-major. */
  pixels: number[];
  n: number;
  targets: number[] | 'top';
  /** Abort after this many progress reports (the run must then reject with ABORTED). */
  abortAfter?: number;
}

/** What a run gives back. */
export interface RunResult {
  maps: number[];
  shape: number[];
  /** `tf.memory().numTensors` before and after (the input tensor excluded). */
  before: number;
  after: number;
  progress: core.Progress[];
  error?: { name: string; code?: string; message: string };
  backend: string;
}

let face: { model: tfl.LayersModel; classifier: core.Classifier } | null = null;

/** Builds the face-expression model with face-api's weights fetched from `base`. */
async function loadFace(base: string): Promise<void> {
  face?.model.dispose();
  face = null;
  const manifest = await (await fetch(`${base}face_expression_model-weights_manifest.json`)).json() as tf.io.WeightsManifestConfig;
  const data = await (await fetch(`${base}face_expression_model.bin`)).arrayBuffer();
  const model = faceModel.buildFaceExpressionModel();
  faceModel.loadFaceExpressionWeights(model, manifest, data);
  const classifier = core.fromLayersModel(model, {
    classNames: faceModel.FACE_EXPRESSION_CLASSES,
    preprocess: { inputRange: [0, 255], mean: faceModel.FACE_EXPRESSION_MEAN, std: 255 },
  });
  face = { model, classifier };
}

async function run(spec: RunSpec): Promise<RunResult> {
  if (face == null) throw new Error('call harness.loadFace first');
  const x = tf.tensor4d(spec.pixels, [spec.n, 112, 112, 3]);
  const before = tf.memory().numTensors;
  const progress: core.Progress[] = [];
  const controller = new AbortController();
  const factory = METHODS[spec.method] as (o: Record<string, unknown>) => core.SaliencyMethod;
  const method = factory({
    ...spec.options,
    signal: controller.signal,
    onProgress: (p: core.Progress) => {
      progress.push(p);
      if (spec.abortAfter != null && progress.length >= spec.abortAfter) controller.abort();
    },
  });
  const result: RunResult = { maps: [], shape: [], before, after: before, progress, backend: tf.getBackend() };
  try {
    const maps = await method.explain(face.classifier, x, spec.targets);
    result.shape = maps.shape;
    result.maps = Array.from(await maps.data());
    maps.dispose();
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string };
    result.error = { name: err.name ?? 'Error', message: err.message ?? String(e) };
    if (err.code != null) result.error.code = err.code;
  }
  result.after = tf.memory().numTensors;
  x.dispose();
  return result;
}

/** Logits of the face model for `n` images (to compare models loaded in other ways). */
async function faceLogits(pixels: number[], n: number): Promise<number[]> {
  if (face == null) throw new Error('call harness.loadFace first');
  const cls = face.classifier;
  const logits = tf.tidy(() => cls.logits(tf.tensor4d(pixels, [n, 112, 112, 3])));
  const out = Array.from(await logits.data());
  logits.dispose();
  return out;
}

/** What the harness exposes to tests. */
export interface Harness {
  lib: { tf: typeof tf; tfl: typeof tfl; core: typeof core; web: typeof web; faceModel: typeof faceModel };
  loadFace: typeof loadFace;
  faceModel: () => tfl.LayersModel;
  run: typeof run;
  faceLogits: typeof faceLogits;
}

const harness: Harness = {
  lib: { tf, tfl, core, web, faceModel },
  loadFace,
  faceModel: () => { if (face == null) throw new Error('call harness.loadFace first'); return face.model; },
  run,
  faceLogits,
};
(window as unknown as { harness: Harness }).harness = harness;
