import { Rng } from '../../../src/core/inputs/rng';

/** A random m x m orthogonal matrix (Gram-Schmidt of a Gaussian matrix), row-major. */
export function randomOrthogonal(m: number, rng: Rng): Float64Array {
  const q = new Float64Array(m * m);
  for (let c = 0; c < m; c++) {
    const v = Float64Array.from({ length: m }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < c; p++) {
        let d = 0;
        for (let r = 0; r < m; r++) d += q[r * m + p] * v[r];
        for (let r = 0; r < m; r++) v[r] -= d * q[r * m + p];
      }
    }
    const nrm = Math.hypot(...v);
    for (let r = 0; r < m; r++) q[r * m + c] = v[r] / nrm;
  }
  return q;
}

/** U diag(s) V^T for random orthogonal U (m x m), V (n x n): an m x n matrix with singular values s. */
export function withSingularValues(m: number, n: number, s: number[], seed: number): Float64Array {
  const rng = new Rng(seed);
  const u = randomOrthogonal(m, rng);
  const v = randomOrthogonal(n, rng);
  const a = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let x = 0;
      for (let k = 0; k < s.length; k++) x += u[i * m + k] * s[k] * v[j * n + k];
      a[i * n + j] = x;
    }
  }
  return a;
}

/**
 * Q diag(l) Q^T for Q a product of `reflectors` random Householder reflections: a dense symmetric
 * matrix with eigenvalues l, made in O(reflectors n^2) (a random orthogonal Q would cost O(n^3)).
 */
export function withEigenvalues(l: number[], reflectors: number, seed: number): Float64Array {
  const n = l.length;
  const rng = new Rng(seed);
  const a = new Float64Array(n * n);
  l.forEach((x, i) => (a[i * n + i] = x));
  const p = new Float64Array(n);
  for (let r = 0; r < reflectors; r++) {
    // H A H = A - u w^T - w u^T with w = 2 (A u - (u.A u) u), for H = I - 2 u u^T
    const u = Float64Array.from({ length: n }, () => rng.normal());
    const un = Math.hypot(...u);
    for (let i = 0; i < n; i++) u[i] /= un;
    let upu = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j] * u[j];
      p[i] = s;
      upu += u[i] * s;
    }
    for (let i = 0; i < n; i++) p[i] = 2 * (p[i] - upu * u[i]);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] -= u[i] * p[j] + p[i] * u[j];
  }
  return a;
}
