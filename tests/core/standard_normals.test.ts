import { describe, expect, it } from 'vitest';
import { standardNormals } from '@saliency/core/base';

/** ∫ₐᵇ φ by composite Simpson (φ the standard normal density), the independent truth of the bins. */
function normalMass(a: number, b: number, steps = 2000): number {
  const pdf = (v: number): number => Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
  const h = (b - a) / steps;
  let s = pdf(a) + pdf(b);
  for (let i = 1; i < steps; i++) s += (i % 2 === 1 ? 4 : 2) * pdf(a + i * h);
  return (s * h) / 3;
}

describe('standardNormals (seeded ziggurat)', () => {
  it('same seed → same numbers; another seed → other numbers; any length', () => {
    const a = standardNormals(1001, 42);
    expect(Array.from(standardNormals(1001, 42))).toEqual(Array.from(a));
    expect(Array.from(standardNormals(10, 42))).toEqual(Array.from(a.subarray(0, 10)));
    const b = standardNormals(1001, 43);
    expect(a.filter((v, i) => v === b[i]).length).toBeLessThan(5);
    expect(standardNormals(0, 1).length).toBe(0);
  });

  it('is N(0, 1): χ² over 34 bins against the integrated density, moments, and the tail beyond the base layer', () => {
    const n = 2_000_000;
    const v = standardNormals(n, 7);
    const edges = [-Infinity, ...Array.from({ length: 33 }, (_, i) => -4 + i * 0.25), Infinity];
    const counts = new Array<number>(edges.length - 1).fill(0);
    let sum = 0, sq = 0, quad = 0, beyond = 0;
    for (const x of v) {
      const bin = x < -4 ? 0 : x >= 4 ? counts.length - 1 : 1 + Math.floor((x + 4) / 0.25);
      counts[bin] = (counts[bin] as number) + 1;
      sum += x; sq += x * x; quad += x ** 4;
      if (Math.abs(x) > 3.6541528853610088) beyond++;
    }
    let chi2 = 0;
    for (let i = 0; i < counts.length; i++) {
      const lo = Math.max(edges[i] as number, -12), hi = Math.min(edges[i + 1] as number, 12);
      const expected = n * normalMass(lo, hi);
      chi2 += ((counts[i] as number) - expected) ** 2 / expected;
    }
    // 33 degrees of freedom: P(χ² > 63.9) = 0.001.
    expect(chi2).toBeLessThan(63.9);
    const mean = sum / n, variance = sq / n - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(0.004); // 5.7 standard errors
    expect(Math.abs(variance - 1)).toBeLessThan(0.006);
    expect(Math.abs(quad / n - 3)).toBeLessThan(0.04);
    // The tail past the ziggurat's base layer (its own sampling path): 2.58e-4 of the mass, ~516 numbers.
    const tail = 2 * normalMass(3.6541528853610088, 12);
    expect(Math.abs(beyond / n - tail)).toBeLessThan(5 * Math.sqrt(tail / n));
  });
});
