/**
 * The default Node backend (wasm, with the gradient kernels it lacks filled in) against the cpu
 * reference, on the real bundled models; and the fast gradient path on a real graph model.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, fromGraphModel, gradCam, inputGradient, selectTargets, vanillaGradient, type SaliencyMethod } from '@saliency/core';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionClassifier, loadMobileNetV2Classifier, loadNsfwMobileNetV2Mid, sampleFaces, NSFW_MOBILENET_V2_MID_LAST_CONV_NODE, type BundledClassifier } from '@saliency/models';

let face: BundledClassifier;
let mobilenet: BundledClassifier;
let photo: tf.Tensor4D;
let faces: tf.Tensor4D;

beforeAll(async () => {
  const choice = await initBackend({ quiet: true });
  expect(choice.name).toBe('wasm');
  face = await loadFaceExpressionClassifier();
  mobilenet = await loadMobileNetV2Classifier();
  const crops = await Promise.all(sampleFaces()[0].faces.map((f) => readImage(sampleFaces()[0].path, { region: f.box, square: true })));
  faces = tf.tidy(() => tf.concat(crops.map((c) => tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(c.data), [1, c.height, c.width, 3]), [112, 112], false, true))) as tf.Tensor4D);
  const img = await readImage(sampleFaces()[0].path);
  photo = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]), [224, 224], false, true));
});
afterAll(async () => {
  face.dispose();
  mobilenet.dispose();
  tf.dispose([photo, faces]);
  await tf.setBackend('wasm');
});

function pearson(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n, mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2; }
  return sab / Math.sqrt(saa * sbb);
}

async function onBoth(run: () => Promise<tf.Tensor>): Promise<{ wasm: Float32Array; cpu: Float32Array }> {
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const w = await run();
  const wasm = (await w.data()) as Float32Array;
  w.dispose();
  expect(tf.memory().numTensors).toBe(before);
  await tf.setBackend('cpu');
  const c = await run();
  const cpu = (await c.data()) as Float32Array;
  c.dispose();
  await tf.setBackend('wasm');
  return { wasm, cpu };
}

/** Grad-CAM maps agree to 1e-3; input-gradient maps (float32 sums over ~60 layers in another order) to 5e-3. */
function expectClose({ wasm, cpu }: { wasm: Float32Array; cpu: Float32Array }, label: string, tol = 1e-3): void {
  let d = 0;
  for (let i = 0; i < wasm.length; i++) d = Math.max(d, Math.abs(wasm[i] - cpu[i]));
  const r = pearson(wasm, cpu);
  console.log(`${label}: wasm vs cpu max |Δ| ${d.toExponential(2)}, Pearson r ${r.toFixed(6)}`);
  expect(d).toBeLessThan(tol);
  expect(r).toBeGreaterThan(0.999);
}

describe('wasm (default Node backend) matches the cpu reference on the real models', () => {
  it.each<[string, () => SaliencyMethod, number]>([
    ['Grad-CAM', () => gradCam({ layer: 'dense3' }), 1e-3],
    ['vanilla gradient', () => vanillaGradient(), 5e-3],
  ])('%s on the face model, a batch of three faces', async (label, method, tol) => {
    expectClose(await onBoth(() => method().explain(face.classifier, faces, 'top')), `face ${label}`, tol);
  });

  it('Grad-CAM and vanilla gradient on MobileNetV2 (224×224)', async () => {
    expectClose(await onBoth(() => gradCam({ layer: mobilenet.camLayer }).explain(mobilenet.classifier, photo, 'top')), 'MobileNetV2 Grad-CAM');
    expectClose(await onBoth(() => vanillaGradient().explain(mobilenet.classifier, photo, 'top')), 'MobileNetV2 vanilla gradient', 5e-3);
  });
});

describe('graph model (nsfwjs MobileNetV2Mid, fused kernels)', () => {
  let graph: GraphModel;
  beforeAll(async () => { graph = await loadNsfwMobileNetV2Mid(); });
  afterAll(() => graph.dispose());

  it('fast input gradient equals tfjs own gradient and skips the filter gradients', async () => {
    await tf.setBackend('wasm');
    const c = fromGraphModel(graph, { outputs: 'probabilities', preprocess: { inputRange: [0, 255], modelRange: [0, 1] } });
    expect(c.inputSize).toEqual([224, 224]);
    expect(c.numClasses).toBe(5);
    const f = (x: tf.Tensor4D) => selectTargets(c.logits(x), [2]);
    const plain = tf.tidy(() => tf.grad(f as (x: tf.Tensor) => tf.Tensor)(photo));
    const fast = inputGradient(f, photo);
    const rel = tf.tidy(() => tf.max(tf.abs(tf.sub(plain, fast))).dataSync()[0] / tf.max(tf.abs(plain)).dataSync()[0]);
    console.log(`graph model: fast vs tfjs input gradient, max relative |Δ| ${rel.toExponential(2)}`);
    expect(rel).toBeLessThan(1e-4);
    tf.dispose([plain, fast]);
    const profile = async (g: () => tf.Tensor) => { const p = await tf.profile(() => g()); (p.result as tf.Tensor).dispose(); return p.kernelNames; };
    const slow = await profile(() => tf.grad(f as (x: tf.Tensor) => tf.Tensor)(photo));
    const quick = await profile(() => inputGradient(f, photo));
    // tfjs computes filter gradients of the linear (projection) fused convs it does not need.
    expect(slow).toContain('Conv2DBackpropFilter');
    expect(quick).not.toContain('Conv2DBackpropFilter');
    expect(quick).not.toContain('DepthwiseConv2dNativeBackpropFilter');
  });

  it('at(node) feeds the node back into the graph; Grad-CAM runs at its last conv node', async () => {
    const c = fromGraphModel(graph, { outputs: 'probabilities', preprocess: { inputRange: [0, 255], modelRange: [0, 1] } });
    const access = c.at(NSFW_MOBILENET_V2_MID_LAST_CONV_NODE);
    const before = tf.memory().numTensors;
    const d = tf.tidy(() => {
      const x = c.preprocess(photo);
      return tf.max(tf.abs(tf.sub(access.head(access.features(x), x), c.logits(photo)))).dataSync()[0];
    });
    expect(d).toBeLessThan(1e-4);
    const map = await explain(gradCam({ layer: NSFW_MOBILENET_V2_MID_LAST_CONV_NODE }), c, photo);
    expect(map.shape).toEqual([1, 224, 224]);
    expect(tf.tidy(() => tf.max(map).dataSync()[0])).toBeCloseTo(1, 5);
    map.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => c.at('no/such/node')).toThrowError(expect.objectContaining({ code: 'UNKNOWN_LAYER' }));
  });
});
