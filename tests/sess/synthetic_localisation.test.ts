/**
 * SESS on a task with exact ground truth: an 'X' detector (a fixed template-matching CNN) on generated
 * scenes with two copies of the X at different sizes and ring distractors. Runs on wasm, the default
 * Node backend (the fusion and geometry are checked against the cpu reference elsewhere).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, gradCam } from '@saliency/core';
import { initBackend } from '@saliency/node';
import { sess } from '@saliency/sess';
import { drawShape, inRing, inX, peaksOn, pointingHit, scene, xDetector } from './synthetic';

let detector: ReturnType<typeof xDetector>;
beforeAll(async () => {
  expect((await initBackend({ prefer: 'wasm', quiet: true })).name).toBe('wasm');
  detector = xDetector();
});
afterAll(() => detector.dispose());

const X = 0;

describe('SESS + Grad-CAM on generated scenes with two copies of an object', () => {
  it('the X detector detects a 7-pixel X in its 32×32 input and not a ring (the premise)', () => {
    const draw = (shape: 'x' | 'ring' | 'none') => {
      const img = new Float32Array(32 * 32).fill(0.45);
      if (shape !== 'none') drawShape(img, 32, 32, { x: 12, y: 12, width: 7, height: 7 }, shape === 'x' ? inX : inRing, 0.45);
      return img;
    };
    const probs = tf.tidy(() => detector.classifier.probabilities(tf.tensor4d([...draw('x'), ...draw('ring'), ...draw('none')], [3, 32, 32, 1])).arraySync());
    expect(probs[0][X]).toBeGreaterThan(0.9);
    expect(probs[1][X]).toBeLessThan(0.1);
    expect(probs[2][X]).toBeLessThan(0.1);
  });

  it('has a local maximum on EACH copy (16 px and 7 px) where Grad-CAM alone misses at least one', async () => {
    // Seeds 3, 5 and 7: scenes where plain Grad-CAM misses a copy (the aggregate test below covers all scenes).
    for (const seed of [3, 5, 7]) {
      const sc = scene(seed, { large: 16, small: 7 });
      const before = tf.memory().numTensors;
      const plain = await explain(gradCam(), detector.classifier, sc.image, { target: X });
      const withSess = await explain(sess(gradCam()), detector.classifier, sc.image, { target: X });
      expect(withSess.shape).toEqual([1, sc.height, sc.width]);
      const [p, s] = [await plain.data(), await withSess.data()];
      tf.dispose([plain, withSess]);
      expect(tf.memory().numTensors).toBe(before);
      const peaks = (m: ArrayLike<number>) => sc.objects.map((b) => peaksOn(m, sc.height, sc.width, b, sc.objects.filter((o) => o !== b)));
      console.log(`scene ${seed} (${sc.height}×${sc.width}): peaks on [16 px, 7 px] copies — Grad-CAM ${peaks(p)}, SESS + Grad-CAM ${peaks(s)}`);
      expect(peaks(s)).toEqual([true, true]);
      expect(peaks(p)).toContain(false);
      sc.image.dispose();
    }
  });

  it('pointing game over 100 seeded scenes: Grad-CAM vs SESS (6 scales, to keep the test short) + Grad-CAM', async () => {
    let hitPlain = 0, hitSess = 0;
    const peakPlain = [0, 0], peakSess = [0, 0];
    const method = sess(gradCam({ batchSize: 16 }), { scales: 6 });
    for (let i = 0; i < 100; i++) {
      const sc = scene(1000 + i);
      const plain = await explain(gradCam(), detector.classifier, sc.image, { target: X });
      const withSess = await explain(method, detector.classifier, sc.image, { target: X });
      const [p, s] = [await plain.data(), await withSess.data()];
      tf.dispose([plain, withSess, sc.image]);
      // Tolerance 2 px: the design's 15 px at 224 scaled to this 32-pixel model.
      if (pointingHit(p, sc.width, sc.objects, 2)) hitPlain++;
      if (pointingHit(s, sc.width, sc.objects, 2)) hitSess++;
      sc.objects.forEach((b, k) => {
        const others = sc.objects.filter((o) => o !== b);
        if (peaksOn(p, sc.height, sc.width, b, others)) peakPlain[k]++;
        if (peaksOn(s, sc.height, sc.width, b, others)) peakSess[k]++;
      });
    }
    console.log(`pointing game, 100 scenes: Grad-CAM ${hitPlain}%, SESS + Grad-CAM ${hitSess}%; ` +
      `local max on the large / small copy: Grad-CAM ${peakPlain[0]}% / ${peakPlain[1]}%, SESS ${peakSess[0]}% / ${peakSess[1]}%`);
    // Measured 48 % vs 99 % here (also 48 % vs 99 % with 12 scales, 46 % vs 99 % with no tolerance):
    // the gap is large, so a 30-point margin is robust.
    expect(hitSess - hitPlain).toBeGreaterThanOrEqual(30);
    expect(peakSess[1]).toBeGreaterThan(peakPlain[1]);
  });
});
