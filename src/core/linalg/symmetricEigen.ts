/**
 * Eigenvalues of a real symmetric matrix: Householder reduction to tridiagonal form, then the
 * implicit QL algorithm (the tred2/tql2 pair of EISPACK, as in JAMA), in float64. O(n^3); values
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
  tql(d, e, n);
  return d.sort();
}

/**
 * Householder tridiagonalisation, values only: A <- H A H column by column. On return d holds the
 * diagonal and e[i] the coupling between rows i and i + 1 (e[n - 1] = 0). A is overwritten.
 */
function tridiagonalize(A: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    let norm2 = 0;
    for (let i = k + 1; i < n; i++) norm2 += A[i * n + k] ** 2;
    const x0 = A[(k + 1) * n + k];
    const alpha = x0 >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    e[k] = alpha;
    if (norm2 === 0) continue;
    // v = x - alpha e1, normalised
    let vn = 0;
    for (let i = k + 1; i < n; i++) {
      v[i] = A[i * n + k] - (i === k + 1 ? alpha : 0);
      vn += v[i] * v[i];
    }
    if (vn === 0) continue;
    vn = Math.sqrt(vn);
    for (let i = k + 1; i < n; i++) v[i] /= vn;
    // p = A v on the trailing block; w = p - (v.p) v; A <- A - 2 v w^T - 2 w v^T
    let vp = 0;
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      let s0 = 0;
      let s1 = 0;
      let j = k + 1;
      for (; j + 1 < n; j += 2) {
        s0 += A[row + j] * v[j];
        s1 += A[row + j + 1] * v[j + 1];
      }
      if (j < n) s0 += A[row + j] * v[j];
      p[i] = s0 + s1;
      vp += v[i] * p[i];
    }
    for (let i = k + 1; i < n; i++) p[i] -= vp * v[i];
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      const vi = 2 * v[i];
      const wi = 2 * p[i];
      for (let j = k + 1; j < n; j++) A[row + j] -= vi * p[j] + wi * v[j];
    }
  }
  for (let i = 0; i < n; i++) d[i] = A[i * n + i];
  if (n >= 2) e[n - 2] = A[(n - 1) * n + (n - 2)];
  e[n - 1] = 0;
}

/** Implicit QL iterations on the tridiagonal (d, e); d becomes the eigenvalues. */
function tql(d: Float64Array, e: Float64Array, n: number): void {
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error('symmetric eigenvalues: QL did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] = d[l] + f;
    e[l] = 0;
  }
}
