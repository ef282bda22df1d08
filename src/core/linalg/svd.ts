import { symmetricEigenvalues } from './symmetricEigen';

/**
 * All singular values of a dense m x n matrix (row-major), descending: the square roots of the
 * eigenvalues of the Gram matrix of the smaller side (A A^T or A^T A), in float64. Absolute error
 * about eps * sigma_max^2 / sigma_min on sigma_min, negligible next to the float32 error of a
 * Jacobian assembled by onnxruntime.
 */
export function singularValues(a: Float64Array, m: number, n: number): Float64Array {
  return singularValuesFromGram(gramMatrix(a, m, n), Math.min(m, n));
}

/** Singular values (descending) from the k x k Gram matrix of the smaller side. */
export function singularValuesFromGram(g: Float64Array, k: number): Float64Array {
  const ev = symmetricEigenvalues(g, k);
  const out = new Float64Array(k);
  for (let i = 0; i < k; i++) out[i] = Math.sqrt(Math.max(ev[k - 1 - i], 0));
  return out;
}

/** The Gram matrix of the smaller side of an m x n matrix: A A^T when m <= n, else A^T A. */
export function gramMatrix(a: Float64Array, m: number, n: number): Float64Array {
  const k = Math.min(m, n);
  const g = new Float64Array(k * k);
  if (m <= n) {
    for (let i = 0; i < m; i++) {
      const ri = i * n;
      for (let j = i; j < m; j++) {
        const s = dot(a, ri, j * n, n);
        g[i * k + j] = s;
        g[j * k + i] = s;
      }
    }
  } else {
    // A^T A from the transpose, so that both loops read contiguous rows
    const t = new Float64Array(n * m);
    for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) t[c * m + r] = a[r * n + c];
    for (let i = 0; i < n; i++) {
      const ri = i * m;
      for (let j = i; j < n; j++) {
        const s = dot(t, ri, j * m, m);
        g[i * k + j] = s;
        g[j * k + i] = s;
      }
    }
  }
  return g;
}

/** Dot product of x[a .. a + len) and x[b .. b + len), four accumulators. */
function dot(x: Float64Array, a: number, b: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let t = 0;
  for (; t + 3 < len; t += 4) {
    s0 += x[a + t] * x[b + t];
    s1 += x[a + t + 1] * x[b + t + 1];
    s2 += x[a + t + 2] * x[b + t + 2];
    s3 += x[a + t + 3] * x[b + t + 3];
  }
  for (; t < len; t++) s0 += x[a + t] * x[b + t];
  return s0 + s1 + s2 + s3;
}
