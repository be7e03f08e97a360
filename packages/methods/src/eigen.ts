/*
 * The leading eigenvector of a small symmetric matrix, in float64 on the CPU: cyclic Jacobi
 * rotations (exact up to rounding) for d ≤ 256, power iteration with a convergence test above.
 * Internal to @saliency/methods (Eigen-CAM).
 */

/** Leading eigenvector (largest eigenvalue) of the symmetric `d × d` matrix `m` (row-major). */
export function leadingEigenvector(m: Float64Array, d: number): Float64Array {
  return d <= 256 ? jacobiLeading(m, d) : powerLeading(m, d);
}

function jacobiLeading(src: Float64Array, d: number): Float64Array {
  const a = Float64Array.from(src);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let norm = 0;
  for (let i = 0; i < d * d; i++) norm += a[i] * a[i];
  const tol = 1e-30 * Math.max(norm, 1e-300);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q] * a[p * d + q];
    if (off <= tol) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (apq === 0) continue;
        const theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p], akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k], aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p], vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i < d; i++) if (a[i * d + i] > a[best * d + best]) best = i;
  const out = new Float64Array(d);
  for (let k = 0; k < d; k++) out[k] = v[k * d + best];
  return out;
}

function powerLeading(m: Float64Array, d: number): Float64Array {
  // Shift by the Gershgorin bound so the spectrum is non-negative (the Gram matrices here are PSD anyway).
  let v = new Float64Array(d).fill(1 / Math.sqrt(d));
  for (let i = 0; i < d; i++) v[i] += 1e-3 * Math.sin(i + 1); // break symmetry with a deterministic tilt
  for (let it = 0; it < 5000; it++) {
    const w = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += m[i * d + j] * v[j];
      w[i] = s;
    }
    let n = 0;
    for (let i = 0; i < d; i++) n += w[i] * w[i];
    n = Math.sqrt(n);
    if (n === 0) return v;
    let diff = 0;
    for (let i = 0; i < d; i++) { w[i] /= n; diff += (w[i] - v[i]) ** 2; }
    v = w;
    if (diff < 1e-20) break;
  }
  return v;
}
