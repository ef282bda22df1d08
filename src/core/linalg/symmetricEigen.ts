import { tridiagonalEigenvalues } from './tridiagonalEigen';

/**
 * Eigenvalues of a real symmetric matrix: Householder reduction to tridiagonal form, then the
 * implicit QL algorithm ({@link tridiagonalEigenvalues}), in float64. O(n^3); values
 * are accurate to about eps * ||A||.
 *
 * @param a the n x n matrix, row-major; only read.
 * @returns the n eigenvalues in ascending order.
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  if (n === 0) return new Float64Array(0);
  const v = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonalize(v, n, d, e);
  return tridiagonalEigenvalues(d, e.subarray(0, n - 1)).reverse();
}

/**
 * Householder tridiagonalisation, values only: A <- H A H column by column, touching only the
 * upper triangle (the symmetric product and rank-2 update of LAPACK's dsytd2, by rows so that
 * every inner loop reads contiguous memory). On return d holds the diagonal and e[i] the coupling
 * between rows i and i + 1 (e[n - 1] = 0). A is overwritten.
 */
function tridiagonalize(A: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    // column k below the diagonal is row k right of the diagonal (symmetry)
    const rowK = k * n;
    let norm2 = 0;
    for (let i = k + 1; i < n; i++) norm2 += A[rowK + i] ** 2;
    const x0 = A[rowK + k + 1];
    const alpha = x0 >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    e[k] = alpha;
    if (norm2 === 0) continue;
    // v = x - alpha e1, normalised
    let vn = 0;
    for (let i = k + 1; i < n; i++) {
      v[i] = A[rowK + i] - (i === k + 1 ? alpha : 0);
      vn += v[i] * v[i];
    }
    if (vn === 0) continue;
    vn = Math.sqrt(vn);
    for (let i = k + 1; i < n; i++) v[i] /= vn;
    // p = A v on the trailing block, from its upper triangle
    for (let i = k + 1; i < n; i++) p[i] = 0;
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      const vi = v[i];
      let s = A[row + i] * vi;
      for (let j = i + 1; j < n; j++) {
        const a = A[row + j];
        s += a * v[j];
        p[j] += a * vi;
      }
      p[i] += s;
    }
    // w = p - (v.p) v; A <- A - 2 v w^T - 2 w v^T on the upper triangle
    let vp = 0;
    for (let i = k + 1; i < n; i++) vp += v[i] * p[i];
    for (let i = k + 1; i < n; i++) p[i] -= vp * v[i];
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      const vi = 2 * v[i];
      const wi = 2 * p[i];
      for (let j = i; j < n; j++) A[row + j] -= vi * p[j] + wi * v[j];
    }
  }
  for (let i = 0; i < n; i++) d[i] = A[i * n + i];
  if (n >= 2) e[n - 2] = A[(n - 2) * n + (n - 1)];
  e[n - 1] = 0;
}
