// A classifier that counts the model passes a method actually makes (images, not calls), without
// changing what runs: forward passes outside a gradient tape, passes recorded on a tape (forward +
// backward to the input), the layer-access halves (features outside the tape; head on the tape =
// forward + backward to the layer).
import * as tf from '@tensorflow/tfjs-core';

const onTape = () => tf.engine().state.gradientDepth > 0;

/** `{ wrapped, counts(), reset() }` around `c`. */
export function countingClassifier(c) {
  let n = { forward: 0, taped: 0, features: 0, head: 0, headOnly: 0, rest: 0 };
  const model = (fn) => (x) => {
    if (onTape()) n.taped += x.shape[0]; else n.forward += x.shape[0];
    return fn(x);
  };
  const wrapped = {
    ...c,
    preprocess: (x) => c.preprocess(x),
    layerNames: () => c.layerNames(),
    logits: model((x) => c.logits(x)),
    probabilities: model((x) => c.probabilities(x)),
    at: (layer) => {
      const a = c.at(layer);
      return {
        name: a.name,
        features: (x) => { if (!onTape()) n.features += x.shape[0]; return a.features(x); },
        head: (f, x) => { if (onTape()) n.head += f.shape[0]; else n.headOnly += f.shape[0]; return a.head(f, x); },
        ...(a.reduced != null
          ? { reduced: { reduce: (f) => a.reduced.reduce(f), rest: (r) => { n.rest += r.shape[0]; return a.reduced.rest(r); } } }
          : {}),
      };
    },
  };
  return {
    wrapped,
    reset() { n = { forward: 0, taped: 0, features: 0, head: 0, headOnly: 0, rest: 0 }; },
    /**
     * Passes in the floor's terms: F (a features call without its head on a tape counts as a
     * forward), G, L, H (the head alone, off the tape: Ablation-CAM's ablated passes) and R (the
     * head's rest after its reduction, on reduced rows).
     */
    counts() {
      return { F: n.forward + Math.max(0, n.features - n.head), G: n.taped, L: Math.min(n.head, n.features), ...(n.headOnly > 0 ? { H: n.headOnly } : {}), ...(n.rest > 0 ? { R: n.rest } : {}) };
    },
  };
}
