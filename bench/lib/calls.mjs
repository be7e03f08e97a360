// One timed call per row: the floor passes (forward, input gradient, layer gradient) and every
// method, optionally wrapped in SESS, built from the public factories with the row's sizes.
import * as tf from '@tensorflow/tfjs-core';
import {
  ablationCam, eigenCam, gradCam, gradCamPlusPlus, groupCam, guidedBackprop, guidedGradCam, hiResCam, inputGradient, inputXGradient,
  integratedGradients, layerCam, occlusion, rise, scoreCam, selectTargets, sess, vanillaGradient, xGradCam,
} from '@saliency/core';
import { SESS_SETTINGS } from './plan.mjs';

/** Seed of the stochastic methods in every row. */
const SEED = 1;

/** The method of a row (`params` from sizeRow), with `passBatch` as its own batchSize when given. */
export function makeMethod(row, model, params, sessExtra = {}) {
  const batchSize = row.passBatch ?? undefined;
  const layer = model.camLayer;
  let m;
  switch (row.method) {
    case 'gradient': m = vanillaGradient({ batchSize }); break;
    case 'guided': m = guidedBackprop({ batchSize }); break;
    case 'smoothgrad': m = vanillaGradient({ samples: params.samples, seed: SEED, batchSize }); break;
    case 'gradcam': m = gradCam({ layer, batchSize }); break;
    case 'groupcam': m = groupCam({ layer, groups: params.groups, batchSize }); break;
    case 'scorecam': m = scoreCam({ layer, batchSize }); break;
    case 'rise': m = rise({ n: params.n, seed: SEED, batchSize }); break;
    case 'gradcam++': m = gradCamPlusPlus({ layer, batchSize }); break;
    case 'xgradcam': m = xGradCam({ layer, batchSize }); break;
    case 'layercam': m = layerCam({ layer, batchSize }); break;
    case 'hirescam': m = hiResCam({ layer, batchSize }); break;
    case 'eigencam': m = eigenCam({ layer, batchSize }); break;
    case 'ablationcam': m = ablationCam({ layer, channelBatchSize: batchSize }); break;
    case 'guidedgradcam': m = guidedGradCam({ layer, batchSize }); break;
    case 'inputxgradient': m = inputXGradient({ batchSize }); break;
    case 'integratedgradients': m = integratedGradients({ steps: params.steps, batchSize }); break;
    case 'occlusion': m = occlusion({ batchSize }); break;
    default: throw new Error(`unknown method ${row.method}`);
  }
  return row.sess ? sess(m, { ...SESS_SETTINGS, ...sessExtra }) : m;
}

/** The forward + backward to the CAM layer that Grad-CAM makes, without the CAM arithmetic. */
function layerGradient(classifier, layer, x, targets) {
  const access = classifier.at(layer);
  const xp = classifier.preprocess(x);
  let a = null;
  try {
    a = access.features(xp);
    const feats = a;
    return inputGradient((ai) => selectTargets(access.head(ai, xp), targets), feats);
  } finally {
    a?.dispose();
    xp.dispose();
  }
}

/** `() => Promise<Tensor>` for one run of a row on `classifier` (a counting wrapper, or the model's own). */
export function makeCall(row, model, params, classifier) {
  const x = model.x(row.images);
  const targets = model.targets(row.images);
  switch (row.method) {
    case 'forward': return async () => classifier.probabilities(x);
    case 'inputgrad': return async () => inputGradient((xi) => selectTargets(classifier.logits(xi), targets), x);
    case 'layergrad': return async () => layerGradient(classifier, model.camLayer, x, targets);
    case 'headpass': {
      // The head alone on CAM-layer features computed once, outside the timing (Ablation-CAM's unit).
      const access = classifier.at(model.camLayer);
      const features = tf.tidy(() => access.features(x));
      const call = async () => access.head(features, x);
      call.dispose = () => features.dispose();
      return call;
    }
    case 'restpass': {
      // The head's rest on reduced CAM-layer rows computed once, outside the timing (Ablation-CAM's unit
      // where the classifier offers LayerAccess.reduced).
      const { reduced } = classifier.at(model.camLayer);
      if (reduced == null) throw new Error(`restpass: layer ${model.camLayer} has no reduced head`);
      const rows = tf.tidy(() => reduced.reduce(classifier.at(model.camLayer).features(x)));
      const call = async () => reduced.rest(rows);
      call.dispose = () => rows.dispose();
      return call;
    }
    default: {
      const method = makeMethod(row, model, params);
      return () => method.explain(classifier, x, targets);
    }
  }
}

/** Runs a call once: ms until its result is on the host, result disposed. */
export async function once(call) {
  const t0 = performance.now();
  const out = await call();
  await out.data();
  const ms = performance.now() - t0;
  tf.dispose(out);
  return ms;
}
