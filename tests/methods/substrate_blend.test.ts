import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { blendWithMasks } from '../../packages/methods/src/substrate';
import { rng, useCpu } from '../setup_cpu';

beforeAll(useCpu);

describe('blendWithMasks', () => {
  it('is x·m + a·(1 − m) per pixel and channel (loop in the test), for a colour or an image background, 1 or 3 channels', () => {
    const [b, h, w] = [4, 5, 6];
    const next = rng(31);
    for (const c of [1, 3]) {
      const xs = Array.from({ length: h * w * c }, () => next() * 255);
      const ms = Array.from({ length: b * h * w }, () => next());
      const colour = Array.from({ length: c }, () => next() * 100);
      const image = Array.from({ length: h * w * c }, () => next() * 255);
      const x = tf.tensor4d(xs, [1, h, w, c]);
      const masks = tf.tensor3d(ms, [b, h, w]);
      const bgImage = tf.tensor4d(image, [1, h, w, c]);
      const before = tf.memory().numTensors;
      for (const [bg, at] of [[colour, (_p: number, ch: number) => colour[ch] as number], [bgImage, (p: number, ch: number) => image[p * c + ch] as number]] as const) {
        const out = blendWithMasks(x, masks, bg as tf.Tensor | number[]);
        expect(out.shape).toEqual([b, h, w, c]);
        const got = out.dataSync();
        for (let i = 0; i < b; i++) {
          for (let p = 0; p < h * w; p++) {
            const m = ms[i * h * w + p] as number;
            for (let ch = 0; ch < c; ch++) {
              const want = (xs[p * c + ch] as number) * m + at(p, ch) * (1 - m);
              expect(Math.abs((got[(i * h * w + p) * c + ch] as number) - want)).toBeLessThan(1e-4);
            }
          }
        }
        out.dispose();
        expect(tf.memory().numTensors).toBe(before);
      }
      tf.dispose([x, masks, bgImage]);
    }
  });
});
