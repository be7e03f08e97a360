/*
 * The bundled model: face-api's face-expression weights (copied into the site
 * at build time) on the architecture of @saliency/core.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { fromLayersModel, type Classifier } from '@saliency/core/base';
import { buildFaceExpressionModel, loadFaceExpressionWeights, FACE_EXPRESSION_CLASSES, FACE_EXPRESSION_MEAN } from '@saliency/models/browser';

/** A classifier the page can explain, and how to free it. */
export interface PageModel {
  classifier: Classifier;
  dispose(): void;
}

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res;
}

/** Loads the face-expression classifier (112×112 faces in 0–255, 7 expressions) from `base`. */
export async function loadFaceModel(base = './models/face/'): Promise<PageModel> {
  const manifest = await (await fetchOk(`${base}face_expression_model-weights_manifest.json`)).json() as tf.io.WeightsManifestConfig;
  const shards = await Promise.all(manifest.flatMap((g) => g.paths).map(async (p) => new Uint8Array(await (await fetchOk(`${base}${p}`)).arrayBuffer())));
  const bytes = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
  let at = 0;
  for (const s of shards) { bytes.set(s, at); at += s.length; }
  const model = buildFaceExpressionModel();
  try {
    loadFaceExpressionWeights(model, manifest, bytes.buffer);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const classifier = fromLayersModel(model, {
    classNames: FACE_EXPRESSION_CLASSES,
    preprocess: { inputRange: [0, 255], mean: FACE_EXPRESSION_MEAN, std: 255 },
  });
  return { classifier, dispose: () => model.dispose() };
}
