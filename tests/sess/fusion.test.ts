import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fusePatchMaps, fusionAdd, fusionDispose, fusionResult, fusionStart, type SessPatch } from '@saliency/sess';
import { maxAbsDiff, rng, useCpu } from '../setup_cpu';

beforeAll(useCpu);

const patch = (scaledSize: [number, number], top: number, left: number, window: [number, number]): SessPatch =>
  ({ scaleIndex: 0, scale: Math.min(...scaledSize), scaledSize, top, left, window });

// Two 4×4 patch maps of one 4×6 scaled image (= the output size, so no resizing), overlapping in columns 2–3.
const A = [
  [0.2, 0.4, 0, 0.8],
  [0, 1, 0.5, 0],
  [0.6, 0, 0, 0.2],
  [0, 0, 0.4, 1],
];
const B = [
  [0, 0.6, 0.2, 0],
  [0.4, 0, 0, 1],
  [0, 0, 0.8, 0.6],
  [1, 0.2, 0, 0],
];
const twoPatches = [patch([4, 6], 0, 0, [4, 4]), patch([4, 6], 0, 2, [4, 4])];

async function fuse(opts: { pool?: 'mean' | 'max'; theta?: number }): Promise<number[][]> {
  const maps = tf.tensor3d([A, B]);
  const before = tf.memory().numTensors;
  const out = fusePatchMaps(maps, twoPatches, [1, 0.5], [4, 6], opts);
  const rows = (await out.array()) as number[][];
  out.dispose();
  expect(tf.memory().numTensors).toBe(before);
  maps.dispose();
  return rows;
}

function expectRows(got: number[][], want: number[][], tol = 1e-6): void {
  expect(got.length).toBe(want.length);
  got.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - want[i][j]), `(${i}, ${j}): ${v} vs ${want[i][j]}`).toBeLessThan(tol)));
}

describe('SESS fusion (design.md §4 step 5)', () => {
  it('mean of the values > 0 per pixel on two overlapping patches with zeros (weights 1 and 0.5), by hand', async () => {
    // B is weighted 0.5: B' = [[0, .3, .1, 0], [.2, 0, 0, .5], [0, 0, .4, .3], [.5, .1, 0, 0]] in columns 2–5.
    // Overlap (columns 2–3): (0,3) A .8 & B' .3 → .55; (2,3) A .2 & B' 0 → .2 (the zero is ignored, not averaged in);
    // (1,2) A .5 & B' .2 → .35; (3,2) .4 & .5 → .45; (3,3) 1 & .1 → .55; (0,2), (1,3), (2,2) all zeros → 0.
    expectRows(await fuse({}), [
      [0.2, 0.4, 0, 0.55, 0.1, 0],
      [0, 1, 0.35, 0, 0, 0.5],
      [0.6, 0, 0, 0.2, 0.4, 0.3],
      [0, 0, 0.45, 0.55, 0, 0],
    ]);
  });

  it('theta = 0.25 averages only the values above it, by hand', async () => {
    expectRows(await fuse({ theta: 0.25 }), [
      [0, 0.4, 0, 0.55, 0, 0],
      [0, 1, 0.5, 0, 0, 0.5],
      [0.6, 0, 0, 0, 0.4, 0.3],
      [0, 0, 0.45, 1, 0, 0],
    ]);
  });

  it("pool 'max' takes the per-pixel maximum, by hand", async () => {
    expectRows(await fuse({ pool: 'max' }), [
      [0.2, 0.4, 0, 0.8, 0.1, 0],
      [0, 1, 0.5, 0, 0, 0.5],
      [0.6, 0, 0, 0.2, 0.4, 0.3],
      [0, 0, 0.5, 1, 0, 0],
    ]);
  });

  it('a patch of a 2× scale is pasted, its canvas halved (2×2 block means), and zeros are still ignored, by hand', async () => {
    // P1: 4×4 window at (4, 4) of an 8×8 scaled image; halving to 4×4 (half-pixel centres) averages 2×2 blocks,
    // so its canvas becomes zeros but for [[1, 0], [0, 0.1]] at rows/cols 2–3.
    const p1 = [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0.4, 0], [0, 0, 0, 0]];
    const p2 = [[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0, 0.5], [0.5, 0.5, 0.5, 0]];
    const maps = tf.tensor3d([p1, p2]);
    const out = fusePatchMaps(maps, [patch([8, 8], 4, 4, [4, 4]), patch([4, 4], 0, 0, [4, 4])], [1, 1], [4, 4]);
    expectRows((await out.array()) as number[][], [
      [0.5, 0.5, 0.5, 0.5],
      [0.5, 0.5, 0.5, 0.5],
      [0.5, 0.5, 1, 0.5],
      [0.5, 0.5, 0.5, 0.1],
    ]);
    tf.dispose([maps, out]);
  });

  it('equals a per-patch reference loop (its own bilinear resize) on random patches of three scales, fed in two batches', async () => {
    /** OpenCV-style bilinear resize (INTER_LINEAR, half-pixel centres, clamped edges), written independently. */
    const resize = (src: Float64Array, sh: number, sw: number, h: number, w: number): Float64Array => {
      const out = new Float64Array(h * w);
      const coord = (i: number, n: number, m: number): [number, number, number] => {
        let f = (i + 0.5) * (n / m) - 0.5;
        if (f < 0) f = 0;
        if (f > n - 1) f = n - 1;
        const i0 = Math.floor(f);
        return [i0, Math.min(i0 + 1, n - 1), f - i0];
      };
      for (let y = 0; y < h; y++) {
        const [y0, y1, fy] = coord(y, sh, h);
        for (let x = 0; x < w; x++) {
          const [x0, x1, fx] = coord(x, sw, w);
          const top = src[y0 * sw + x0] * (1 - fx) + src[y0 * sw + x1] * fx;
          const bot = src[y1 * sw + x0] * (1 - fx) + src[y1 * sw + x1] * fx;
          out[y * w + x] = top * (1 - fy) + bot * fy;
        }
      }
      return out;
    };
    const r = rng(5);
    const [H, W, K] = [13, 17, 9];
    const scales: [number, number][] = [[13, 17], [20, 26], [31, 40]];
    const patches: SessPatch[] = [];
    const data: number[][][] = [];
    const weights: number[] = [];
    for (let i = 0; i < 10; i++) {
      const s = scales[i % 3];
      patches.push(patch(s, Math.floor(r() * (s[0] - K + 1)), Math.floor(r() * (s[1] - K + 1)), [K, K]));
      data.push(Array.from({ length: K }, () => Array.from({ length: K }, () => (r() < 0.3 ? 0 : r()))));
      weights.push(0.2 + 0.8 * r());
    }
    const canvases = patches.map((p, i) => {
      const c = new Float64Array(p.scaledSize[0] * p.scaledSize[1]);
      for (let y = 0; y < K; y++) for (let x = 0; x < K; x++) c[(p.top + y) * p.scaledSize[1] + p.left + x] = data[i][y][x] * weights[i];
      return resize(c, p.scaledSize[0], p.scaledSize[1], H, W);
    });
    const maps = tf.tensor3d(data);
    for (const opts of [{ theta: 0 }, { theta: 0.3 }, { pool: 'max' as const }]) {
      const want = new Float32Array(H * W);
      for (let j = 0; j < H * W; j++) {
        const vals = canvases.map((c) => c[j]);
        if (opts.pool === 'max') want[j] = Math.max(...vals);
        else {
          const above = vals.filter((v) => v > (opts.theta ?? 0));
          want[j] = above.length === 0 ? 0 : above.reduce((a, b) => a + b, 0) / above.length;
        }
      }
      const before = tf.memory().numTensors;
      let state = fusionStart([H, W], opts);
      const first = tf.slice(maps, [0, 0, 0], [4, -1, -1]);
      const rest = tf.slice(maps, [4, 0, 0], [6, -1, -1]);
      state = fusionAdd(state, first, patches.slice(0, 4), weights.slice(0, 4));
      state = fusionAdd(state, rest, patches.slice(4), weights.slice(4));
      const got = fusionResult(state);
      fusionDispose(state);
      tf.dispose([first, rest]);
      const wantT = tf.tensor2d(want, [H, W]);
      expect(maxAbsDiff(got, wantT)).toBeLessThan(1e-5);
      // Not a vacuous comparison: the fused map has structure.
      expect(tf.tidy(() => tf.max(got).dataSync()[0])).toBeGreaterThan(0.3);
      tf.dispose([got, wantT]);
      expect(tf.memory().numTensors).toBe(before);
    }
    maps.dispose();
  });

  it('rejects mismatched inputs with BAD_OPTION and leaks nothing', () => {
    const maps = tf.zeros([2, 4, 4]) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    expect(() => fusePatchMaps(maps, twoPatches, [1], [4, 6])).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => fusePatchMaps(maps, [patch([4, 6], 0, 3, [4, 4]), twoPatches[0]], [1, 1], [4, 6])).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => fusePatchMaps(maps, twoPatches, [1, 1], [4, 6], { theta: 1 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => fusePatchMaps(maps, twoPatches, [1, 1], [4, 6], { pool: 'avg' as 'mean' })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(tf.memory().numTensors).toBe(before);
    maps.dispose();
  });
});
