import { describe, expect, it } from 'vitest';
import { scaledSize, sessPatches, sessScales, windowStarts, type SessGeometry } from '@saliency/sess';
import { rng } from '../setup_cpu';

const geometry = (side: number, n: number, step = side): SessGeometry => ({ scales: sessScales(side, n), window: [side, side], step: [step, step] });

/** The reference's `sliding_window` (neouyghur/SESS utils/misc.py), transcribed literally: an independent enumerator. */
function referenceSlidingWindow(height: number, width: number, step: number, win: number): [number, number][] {
  const out: [number, number][] = [];
  let yFlag = false;
  for (let y = 0; y < height; y += step) {
    let xFlag = false;
    for (let x = 0; x < width; x += step) {
      let x0 = x;
      if (width <= x + win) { x0 = width - win; xFlag = true; }
      let y0 = y;
      if (height <= y + win) { y0 = height - win; yFlag = true; }
      out.push([y0, x0]);
      if (xFlag) break;
    }
    if (yFlag) break;
  }
  return out;
}

describe('SESS geometry (design.md §4 steps 1–2)', () => {
  it('scales are round(w·(1 + 2i/7)): 224 + 64·i for a 224 model, 112 + 32·i for the 112 face model', () => {
    expect(sessScales(224, 12)).toEqual([224, 288, 352, 416, 480, 544, 608, 672, 736, 800, 864, 928]);
    expect(sessScales(112, 12)).toEqual([112, 144, 176, 208, 240, 272, 304, 336, 368, 400, 432, 464]);
    // 100·(1 + 2i/7) = 100, 128.57, 157.14, 185.71 → rounded.
    expect(sessScales(100, 4)).toEqual([100, 129, 157, 186]);
    expect(() => sessScales(224, 0)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
  });

  it('the shorter side becomes the scale; the longer one is floor(scale·long/short) (torchvision Resize(int))', () => {
    expect(scaledSize(224, 224, 928)).toEqual([928, 928]);
    expect(scaledSize(375, 500, 224)).toEqual([224, 298]); // 298.67
    expect(scaledSize(375, 500, 288)).toEqual([288, 384]); // exact
    expect(scaledSize(500, 375, 352)).toEqual([469, 352]); // 469.33
    expect(scaledSize(100, 80, 224)).toEqual([280, 224]); // an image smaller than the window is enlarged
  });

  it('windows start at 0, step on, and the last one snaps to the edge', () => {
    expect(windowStarts(224, 224, 224)).toEqual([0]);
    expect(windowStarts(288, 224, 224)).toEqual([0, 64]);
    expect(windowStarts(448, 224, 224)).toEqual([0, 224]); // ends exactly at the edge: no extra window
    expect(windowStarts(928, 224, 224)).toEqual([0, 224, 448, 672, 704]);
    expect(windowStarts(448, 224, 112)).toEqual([0, 112, 224]);
    expect(windowStarts(300, 100, 70)).toEqual([0, 70, 140, 200]);
    expect(windowStarts(300, 100, 300)).toEqual([0, 200]); // a step longer than the window still ends at the edge
    expect(() => windowStarts(100, 224, 224)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
  });

  it('patch counts match the hand count for square, 375×500, 500×375 and smaller-than-window images', () => {
    const count = (h: number, w: number, side: number, n: number) => sessPatches([h, w], geometry(side, n)).length;
    // Square 224, per scale 224…928: 1, 4, 4, 4, 9, 9, 9, 9, 16, 16, 16, 25 (windows per side 1,2,2,2,3,3,3,3,4,4,4,5).
    expect(count(224, 224, 224, 12)).toBe(122);
    expect(count(224, 224, 224, 6)).toBe(31);
    expect(count(224, 224, 224, 1)).toBe(1);
    // A 900×900 image has the same geometry (only the aspect ratio matters).
    expect(count(900, 900, 224, 12)).toBe(122);
    // 375 high × 500 wide, scaled widths floor(4s/3) = 298, 384, 469, 554, 640, 725, 810, 896, 981, 1066, 1152, 1237:
    // rows × cols = 1×2, 2×2, 2×3, 2×3, 3×3, 3×4, 3×4, 3×4, 4×5, 4×5, 4×6, 5×6.
    expect(count(375, 500, 224, 12)).toBe(2 + 4 + 6 + 6 + 9 + 12 + 12 + 12 + 20 + 20 + 24 + 30); // 157
    expect(count(375, 500, 224, 6)).toBe(2 + 4 + 6 + 6 + 9 + 12); // 39
    expect(count(500, 375, 224, 12)).toBe(157);
    expect(count(500, 375, 224, 6)).toBe(39);
    // 100 high × 80 wide (smaller than the window), scales 224, 288, 352: heights 280, 360, 440 → 2×1, 2×2, 2×2.
    expect(count(100, 80, 224, 3)).toBe(10);
    // The face model (w = 112) on a 224×224 image: the same geometry as 224 on 448, 122 patches.
    expect(count(224, 224, 112, 12)).toBe(122);
  });

  it('500×375 is the transpose of 375×500, and windows cover every scaled image', () => {
    const a = sessPatches([375, 500], geometry(224, 12));
    const b = sessPatches([500, 375], geometry(224, 12));
    const key = (p: { scale: number; top: number; left: number }) => `${p.scale}:${p.top}:${p.left}`;
    expect(new Set(b.map(key))).toEqual(new Set(a.map((p) => key({ scale: p.scale, top: p.left, left: p.top }))));
    for (const p of a) {
      expect(p.top + 224).toBeLessThanOrEqual(p.scaledSize[0]);
      expect(p.left + 224).toBeLessThanOrEqual(p.scaledSize[1]);
    }
    // Every pixel of every scaled image is inside some window of its scale.
    for (const scale of sessScales(224, 12)) {
      const ps = a.filter((p) => p.scale === scale);
      const [h, w] = ps[0].scaledSize;
      const rows = new Set<number>(), cols = new Set<number>();
      for (const p of ps) { for (let y = p.top; y < p.top + 224; y++) rows.add(y); for (let x = p.left; x < p.left + 224; x++) cols.add(x); }
      expect([rows.size, cols.size]).toEqual([h, w]);
    }
  });

  it('equals the reference sliding_window on 200 random sizes, steps ≤ window and scale counts', () => {
    // (With a step LONGER than the window the reference can skip the edge window; SESS always snaps one there.)
    const r = rng(7);
    for (let t = 0; t < 200; t++) {
      const side = 16 + Math.floor(r() * 200);
      const step = 1 + Math.floor(r() * side);
      const n = 1 + Math.floor(r() * 12);
      const h = 1 + Math.floor(r() * 900), w = 1 + Math.floor(r() * 900);
      const got = sessPatches([h, w], geometry(side, n, step));
      const want: string[] = [];
      for (const scale of sessScales(side, n)) {
        // torchvision Resize(int): the short side becomes `scale`, the long one int(scale·long/short).
        const [sh, sw] = h <= w ? [scale, Math.trunc((scale * w) / h)] : [Math.trunc((scale * h) / w), scale];
        for (const [y, x] of referenceSlidingWindow(sh, sw, step, side)) want.push(`${scale}:${sh}x${sw}:${y}:${x}`);
      }
      expect(got.map((p) => `${p.scale}:${p.scaledSize[0]}x${p.scaledSize[1]}:${p.top}:${p.left}`)).toEqual(want);
    }
  });
});
