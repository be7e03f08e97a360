// The leading eigenvector behind Eigen-CAM, on matrices built from a known spectrum (Q diag Qᵀ with
// a seeded orthogonal Q): the residual-stopped power iteration where the gap is usual, the Jacobi
// fallback where it is not (a gap of 1e-3), a repeated top eigenvalue, and a 300-sided matrix.
import { describe, expect, it } from 'vitest';
import { leadingEigenvector } from '../../packages/methods/src/eigen';

/** A seeded orthogonal `d × d` matrix (rows), by Gram–Schmidt of uniform draws. */
function orthogonal(d: number, seed: number): number[][] {
  let s = seed;
  const rnd = (): number => (s = (s * 16807) % 2147483647) / 2147483647 - 0.5;
  const q: number[][] = [];
  for (let i = 0; i < d; i++) {
    const v = Array.from({ length: d }, rnd);
    for (let pass = 0; pass < 2; pass++) {
      for (const u of q) {
        const p = v.reduce((a, x, k) => a + x * u[k]!, 0);
        for (let k = 0; k < d; k++) v[k]! -= p * u[k]!;
      }
    }
    const n = Math.hypot(...v);
    q.push(v.map((x) => x / n));
  }
  return q;
}

/** Σ λᵢ qᵢ qᵢᵀ, row-major, and the rows q. */
function withSpectrum(lambdas: number[], seed: number): { m: Float64Array; q: number[][] } {
  const d = lambdas.length;
  const q = orthogonal(d, seed);
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) m[a * d + b] += lambdas[i]! * q[i]![a]! * q[i]![b]!;
  return { m, q };
}

/** max |±v − u| (an eigenvector's sign is arbitrary). */
function gap(v: Float64Array, u: number[]): number {
  const sign = v.reduce((a, x, i) => a + x * u[i]!, 0) < 0 ? -1 : 1;
  return Math.max(...u.map((x, i) => Math.abs(sign * v[i]! - x)));
}

describe('leadingEigenvector', () => {
  const d = 49; // 7 × 7 positions: MobileNetV2's and ResNet's CAM layers
  it('a usual gap (λ₂/λ₁ = 0.5): the eigenvector of the largest eigenvalue to 1e-9', () => {
    const { m, q } = withSpectrum(Array.from({ length: d }, (_, i) => (i === 3 ? 2 : 1 / (i + 1))), 7);
    expect(gap(leadingEigenvector(m, d), q[3]!)).toBeLessThan(1e-9);
  });

  it('a gap of 1e-3 (power iteration does not settle in its budget; Jacobi does): to 1e-7', () => {
    const { m, q } = withSpectrum(Array.from({ length: d }, (_, i) => (i === 0 ? 1 : i === 1 ? 0.999 : 0.5 / (i + 1))), 11);
    const v = leadingEigenvector(m, d);
    expect(gap(v, q[0]!)).toBeLessThan(1e-7);
    expect(gap(v, q[1]!)).toBeGreaterThan(0.1); // not the runner-up
  });

  it('a repeated top eigenvalue: a unit vector of that eigenspace', () => {
    const { m, q } = withSpectrum(Array.from({ length: d }, (_, i) => (i < 2 ? 1 : 0.3 / (i + 1))), 13);
    const v = leadingEigenvector(m, d);
    const inSpace = Math.hypot(v.reduce((a, x, i) => a + x * q[0]![i]!, 0), v.reduce((a, x, i) => a + x * q[1]![i]!, 0));
    expect(Math.abs(inSpace - 1)).toBeLessThan(1e-7);
  });

  it('above 256 sides (power iteration only): to 1e-8', () => {
    const big = 300;
    const { m, q } = withSpectrum(Array.from({ length: big }, (_, i) => (i === 5 ? 3 : 1 / (i + 2))), 17);
    expect(gap(leadingEigenvector(m, big), q[5]!)).toBeLessThan(1e-8);
  });
});
