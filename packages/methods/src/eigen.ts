/*
 * The leading eigenvector of a small symmetric positive semi-definite matrix, in float64 on the
 * CPU: power iteration from the column of largest diagonal, stopped by a residual test (a
 * fraction of a millisecond for 49 × 49 CAM-layer Gram matrices with a usual spectral gap); where
 * it does not converge (a small gap), cyclic Jacobi rotations (exact up to rounding) for d ≤ 256,
 * long power iteration above. Internal to @saliency/methods (Eigen-CAM).
 */

/** Leading eigenvector (largest eigenvalue) of the symmetric PSD `d × d` matrix `m` (row-major). */
export function leadingEigenvector(m: Float64Array, d: number): Float64Array {
  return residualPower(m, d) ?? (d <= 256 ? jacobiLeading(m, d) : powerLeading(m, d));
}

/**
 * Power iteration from the column of `m` with the largest diagonal, stopped when the residual
 * ‖m v − λ v‖ ≤ 1e-10 · λ (λ = vᵀ m v): v is then within 1e-10 · λ / gap of the leading
 * eigenvector. Null when that has not happened after `maxIter` steps or the matrix is zero.
 */
function residualPower(m: Float64Array, d: number, maxIter = 400, tol = 1e-10): Float64Array | null {
  let j = 0;
  for (let i = 1; i < d; i++) if (m[i * d + i] > m[j * d + j]) j = i;
  const top = m[j * d + j];
  if (!(top > 0)) return null;
  let v = new Float64Array(d);
  // A slight deterministic tilt, so the start is not orthogonal to the leading eigenvector by accident.
  for (let i = 0; i < d; i++) v[i] = m[i * d + j] + 1e-6 * top * Math.sin(i + 1);
  let w = new Float64Array(d);
  const normalize = (x: Float64Array): void => {
    let s = 0;
    for (let i = 0; i < d; i++) s += x[i] * x[i];
    s = Math.sqrt(s);
    for (let i = 0; i < d; i++) x[i] /= s;
  };
  normalize(v);
  for (let it = 0; it < maxIter; it++) {
    let lambda = 0;
    for (let i = 0; i < d; i++) {
      let s = 0;
      const row = i * d;
      for (let k = 0; k < d; k++) s += m[row + k] * v[k];
      w[i] = s;
      lambda += v[i] * s;
    }
    if (!(lambda > 0)) return null;
    let r = 0;
    for (let i = 0; i < d; i++) {
      const e = w[i] - lambda * v[i];
      r += e * e;
    }
    if (Math.sqrt(r) <= tol * lambda) return v;
    const t = v;
    v = w;
    w = t;
    normalize(v);
  }
  return null;
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
