/**
 * SESS wraps every method of the facade: each runs on the bundled face model (real weights, a real
 * photo crop that is not square) and returns a map at the image's own size. Runs on wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as core from '@saliency/core';
import type { SaliencyMethod } from '@saliency/core';
import { initBackend, readImage } from '@saliency/node';
import { loadFaceExpressionClassifier, sampleFaces, type BundledClassifier } from '@saliency/models';
import { sess } from '@saliency/sess';

let face: BundledClassifier;
beforeAll(async () => {
  expect((await initBackend({ prefer: 'wasm', quiet: true })).name).toBe('wasm');
  face = await loadFaceExpressionClassifier();
});
afterAll(() => face.dispose());

/**
 * The facade's method factories with small settings, by export name. Those not exported (yet) are
 * skipped; gradCam and vanillaGradient must be there. Extend this table when a method lands.
 */
const SMALL: Record<string, (layer: string) => object> = {
  gradCam: (layer) => ({ layer }),
  vanillaGradient: () => ({}),
  guidedBackprop: () => ({}),
  groupCam: (layer) => ({ layer }), // 4 groups give all-zero maps on these patches: keep the default 32
  scoreCam: (layer) => ({ layer, batchSize: 64 }),
  rise: () => ({ n: 64, seed: 1 }),
};

function methods(layer: string): [string, SaliencyMethod][] {
  const lib = core as unknown as Record<string, unknown>;
  return Object.entries(SMALL).flatMap(([name, opts]) => {
    const factory = lib[name];
    return typeof factory === 'function' ? [[name, (factory as (o: object) => SaliencyMethod)(opts(layer))] as [string, SaliencyMethod]] : [];
  });
}

describe('sess() over every method of the facade', () => {
  it('runs each on a wide face crop (two windows) and returns a [0, 1] map of the crop size, leaking nothing', async () => {
    const list = methods(face.camLayer);
    expect(list.map(([n]) => n)).toEqual(expect.arrayContaining(['gradCam', 'vanillaGradient']));
    const sample = sampleFaces()[0];
    const b = sample.faces[0].box;
    const img = await readImage(sample.path, { region: { x: b.x - 30, y: b.y, width: b.width + 120, height: b.height } });
    const rows: string[] = [];
    for (const [name, method] of list) {
      const before = tf.memory().numTensors;
      // One scale: the shorter side becomes 112, so a wider crop gives two overlapping windows.
      const map = await core.explain(sess(method, { scales: 1 }), face.classifier, img);
      expect(map.shape).toEqual([img.height, img.width]);
      const [lo, hi, v] = tf.tidy(() => [tf.min(map).dataSync()[0], tf.max(map).dataSync()[0], tf.moments(map).variance.dataSync()[0]]);
      map.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(lo).toBe(0);
      expect(hi).toBeCloseTo(1, 5);
      expect(v).toBeGreaterThan(1e-3);
      rows.push(`${name}: ${img.height}×${img.width} map, variance ${v.toFixed(4)}`);
    }
    console.log(`sess() over ${list.length} facade methods:\n${rows.join('\n')}`);
  });
});
