import { symmetricEigenvalues } from './symmetricEigen';

/**
 * All singular values of a dense m x n matrix (row-major), descending: the square roots of the
 * eigenvalues of the Gram matrix of the smaller side (A A^T or A^T A), in float64. Absolute error
 * about eps * sigma_max^2 / sigma_min on sigma_min, negligible next to the float32 error of a
 * Jacobian assembled by onnxruntime.
 */
export function singularValues(a: Float64Array, m: number, n: number): Float64Array {
  const k = Math.min(m, n);
  const g = new Float64Array(k * k);
  if (m <= n) {
    for (let i = 0; i < m; i++) {
      for (let j = i; j < m; j++) {
        let s = 0;
        for (let t = 0; t < n; t++) s += a[i * n + t] * a[j * n + t];
        g[i * k + j] = s;
        g[j * k + i] = s;
      }
    }
  } else {
    // A^T A accumulated row by row (cache-friendly)
    for (let r = 0; r < m; r++) {
      const row = r * n;
      for (let i = 0; i < n; i++) {
        const ai = a[row + i];
        if (ai === 0) continue;
        for (let j = i; j < n; j++) g[i * k + j] += ai * a[row + j];
      }
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) g[i * k + j] = g[j * k + i];
  }
  const ev = symmetricEigenvalues(g, k);
  const out = new Float64Array(k);
  for (let i = 0; i < k; i++) out[i] = Math.sqrt(Math.max(ev[k - 1 - i], 0));
  return out;
}
