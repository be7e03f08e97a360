/**
 * matplotlib's `jet` segment data (`_jet_data` in `lib/matplotlib/_cm.py`):
 * per channel, `[x, y]` breakpoints of a piecewise-linear function of x ∈ [0, 1]
 * (matplotlib's `(x, y0, y1)` triples have `y0 = y1` for jet, so one y suffices).
 */
const JET_SEGMENTS: readonly (readonly (readonly [number, number])[])[] = [
  // red
  [[0, 0], [0.35, 0], [0.66, 1], [0.89, 1], [1, 0.5]],
  // green
  [[0, 0], [0.125, 0], [0.375, 1], [0.64, 1], [0.91, 0], [1, 0]],
  // blue
  [[0, 0.5], [0.11, 1], [0.34, 1], [0.65, 0], [1, 0]],
];

function interpolate(points: readonly (readonly [number, number])[], x: number): number {
  for (let i = 1; i < points.length; i++) {
    const [x1, y1] = points[i];
    if (x <= x1) {
      const [x0, y0] = points[i - 1];
      return y0 + ((x - x0) / (x1 - x0)) * (y1 - y0);
    }
  }
  return points[points.length - 1][1];
}

function buildJet(): Float32Array {
  // matplotlib's LinearSegmentedColormap(N = 256): entry i samples x = i / 255.
  const out = new Float32Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.min(1, Math.max(0, interpolate(JET_SEGMENTS[c], x)));
  }
  return out;
}

/**
 * matplotlib's `jet` colour map as 256 RGB entries in [0, 1], row-major
 * `[r0, g0, b0, …]`, built exactly as matplotlib's `LinearSegmentedColormap`
 * lookup table (entry i = the segment data at x = i/255, linearly interpolated).
 * Entry 0 is `(0, 0, 0.5)`, entry 255 is `(0.5, 0, 0)`, entry 128 ≈ `(0.49, 1, 0.48)`.
 */
export const JET_RGB: Float32Array = buildJet();
