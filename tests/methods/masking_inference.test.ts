/**
 * The masking model's inference path (one pass of the encoder for all its layers, batch-norms
 * folded into fused convolutions, depth-to-space) against the decoder written out step by step
 * with the training path's building blocks, for both up-sampler kinds, with non-trivial running
 * statistics.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromLayersModel } from '@saliency/core';
import { createMaskingModel, type MaskingModelInternals } from '../../packages/methods/src/masking/architecture';
import { loadMaskingModel, saveMaskingModel } from '../../packages/methods/src/masking/io';
import { batchNorm, pixelShuffle2 } from '../../packages/methods/src/masking/layers';
import { maxAbsDiff, seeded, useCpu } from '../setup_cpu';

beforeAll(useCpu);

/** conv(16×16) → pool → conv(8×8) → pool → conv(4×4) → GAP → dense(3). */
function cnn(): tfl.LayersModel {
  const init = (seed: number) => tfl.initializers.randomNormal({ seed, stddev: 0.3 });
  const input = tfl.input({ shape: [16, 16, 3] });
  let h = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: init(1) }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c2', kernelInitializer: init(2) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c3', kernelInitializer: init(3) }).apply(h) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, kernelInitializer: init(4) }).apply(gap) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

describe('masking model inference path', () => {
  it('layerFeatures (one pass) equals at(layer).features for each layer', () => {
    const model = cnn();
    const c = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const x = seeded([2, 16, 16, 3], 3) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const many = c.layerFeatures!(['c1', 'c2', 'c3', 'auto'], x);
    const one = ['c1', 'c2', 'c3', 'c3'].map((l) => c.at(l).features(x));
    many.forEach((f, i) => expect(maxAbsDiff(f, one[i] as tf.Tensor)).toBe(0));
    tf.dispose([...many, ...one]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  const kinds = [['conv', 'follow'], ['separable', 'follow'], ['separable', 'lateral'], ['conv', 'lateral']] as const;
  for (const [upsampler, finestBlock] of kinds) {
    it(`masks() equals the decoder written out step by step (${upsampler} up-samplers, finest block '${finestBlock}')`, () => {
      const model = cnn();
      const c = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
      const m = createMaskingModel(c, { encoderLayers: ['c1', 'c2', 'c3'], upsamplerChannels: 4, upsampler, finestBlock, seed: 2 }) as MaskingModelInternals;
      const lateral = finestBlock === 'lateral';
      expect(m.weights.has('up1/follow')).toBe(!lateral);
      expect(m.weights.has('up0/follow')).toBe(true);
      expect(m.weights.has('head/skip_kernel')).toBe(lateral);
      if (lateral) {
        // Untrained heads are near zero: give the lateral kernel and bias values that matter.
        m.weights.get('head/skip_kernel')!.assign(seeded([1, 1, 4, 2], 40, -1, 1));
        m.weights.get('head/bias')!.assign(tf.tensor1d([0.3, -0.2]));
      }
      let s = 10;
      for (const [name, v] of m.weights) {
        if (name.endsWith('/mean')) v.assign(seeded(v.shape, s++, -0.3, 0.3));
        if (name.endsWith('/variance')) v.assign(seeded(v.shape, s++, 0.3, 2));
        if (name.endsWith('/gamma')) v.assign(seeded(v.shape, s++, 0.5, 1.5));
        if (name.endsWith('/beta')) v.assign(seeded(v.shape, s++, -0.2, 0.2));
      }
      expect(m.weights.has('up0/conv_depthwise')).toBe(upsampler === 'separable');
      const x = seeded([2, 16, 16, 3], 4) as tf.Tensor4D;
      const classes = [2, 0];
      const before = tf.memory().numTensors;
      const got = m.masks(x, classes);
      const want = tf.tidy(() => {
        const w = (n: string) => m.weights.get(n) as unknown as tf.Tensor4D;
        const bn = (n: string) => ({ gamma: m.weights.get(`${n}/gamma`)!, beta: m.weights.get(`${n}/beta`)!, mean: m.weights.get(`${n}/mean`)!, variance: m.weights.get(`${n}/variance`)! });
        const conv3 = (v: tf.Tensor4D, n: string) => upsampler === 'separable'
          ? tf.conv2d(tf.depthwiseConv2d(v, w(`${n}_depthwise`), 1, 'same'), w(n), 1, 'same')
          : tf.conv2d(v, w(n), 1, 'same');
        const feats = ['c1', 'c2', 'c3'].map((l) => c.at(l).features(x));
        const emb = tf.reshape(tf.gather(m.weights.get('selector/embedding')!, classes), [2, 1, 1, -1]);
        let flow = tf.mul(feats[2]!, tf.sigmoid(tf.sum(tf.mul(feats[2]!, emb), -1, true))) as tf.Tensor4D;
        for (const j of [0, 1]) {
          const up = tf.relu(pixelShuffle2(batchNorm(conv3(flow, `up${j}/conv`), bn(`up${j}/bn_up`), false)));
          if (lateral && j === 1) {
            flow = up;
            break;
          }
          const joined = tf.concat([up, feats[1 - j]!], 3) as tf.Tensor4D;
          flow = tf.relu(batchNorm(conv3(joined, `up${j}/follow`), bn(`up${j}/bn_follow`), false));
        }
        const ab = tf.add(
          tf.conv2d(lateral ? tf.concat([flow, feats[0]!], 3) : flow, lateral ? tf.concat([w('head/kernel'), w('head/skip_kernel')], 2) : w('head/kernel'), 1, 'same'),
          m.weights.get('head/bias')!,
        );
        const [a, b] = tf.split(tf.abs(ab), 2, 3);
        const small = tf.squeeze(tf.div(a!, tf.add(tf.add(a!, b!), 0.001)), [3]) as tf.Tensor3D;
        return tf.squeeze(tf.image.resizeBilinear(tf.expandDims(small, 3) as tf.Tensor4D, [16, 16], false, true), [3]);
      });
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-4); // float32 rounding through |a|/(|a|+|b|)
      // The training path (inference mode: running statistics) gives the same masks.
      const trained = tf.tidy(() => {
        const feats = m.features(x);
        return m.upsample(m.forward(feats, tf.tensor1d(classes, 'int32'), false).small);
      });
      expect(maxAbsDiff(trained, want)).toBeLessThan(1e-4);
      trained.dispose();
      expect(tf.tidy(() => tf.sub(tf.max(want), tf.min(want)).dataSync()[0])).toBeGreaterThan(0.01);
      tf.dispose([got, want]);
      expect(tf.memory().numTensors).toBe(before);
      m.dispose();
      x.dispose();
      model.dispose();
    });
  }

  it("a 'lateral' model saves and loads (same config, same masks); bad finestBlock values are coded errors", async () => {
    const model = cnn();
    const c = fromLayersModel(model, { preprocess: { inputRange: [0, 1] } });
    const m = createMaskingModel(c, { encoderLayers: ['c1', 'c2', 'c3'], upsamplerChannels: 4, upsampler: 'separable', finestBlock: 'lateral', seed: 5 });
    m.weights.get('head/skip_kernel')!.assign(seeded([1, 1, 4, 2], 41, -1, 1));
    let saved: tf.io.ModelArtifacts | null = null;
    await saveMaskingModel(m, { save: async (a: tf.io.ModelArtifacts) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; } });
    const artifacts = saved as unknown as tf.io.ModelArtifacts;
    const before = tf.memory().numTensors;
    const loaded = await loadMaskingModel(c, { load: async () => artifacts });
    expect(loaded.config.finestBlock).toBe('lateral');
    expect(loaded.config).toEqual(m.config);
    const x = seeded([2, 16, 16, 3], 6) as tf.Tensor4D;
    const [want, got] = [m.masks(x, [1, 2]), loaded.masks(x, [1, 2])];
    expect(maxAbsDiff(got, want)).toBe(0);
    tf.dispose([want, got, x]);
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // A configuration this version does not know is refused before any weight is made.
    const topology = artifacts.modelTopology as { config: Record<string, unknown> };
    const odd = { ...artifacts, modelTopology: { ...topology, config: { ...topology.config, finestBlock: 'pyramid' } } };
    await expect(loadMaskingModel(c, { load: async () => odd })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    expect(tf.memory().numTensors).toBe(before);
    expect(() => createMaskingModel(c, { encoderLayers: ['c3'], finestBlock: 'lateral' })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => createMaskingModel(c, { encoderLayers: ['c2', 'c3'], finestBlock: 'pyramid' as 'lateral' })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    model.dispose();
  });
});
