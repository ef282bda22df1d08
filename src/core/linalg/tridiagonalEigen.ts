/**
 * Eigen-decomposition of a real symmetric tridiagonal matrix by implicit QL iterations with
 * Wilkinson-like shifts (tql2 of EISPACK, as in JAMA), in float64: O(n^2) for the values and
 * O(n^3) with the vectors, against the O(n^3) per sweep of a dense Jacobi solve. This is what
 * Lanczos needs at each step: the Ritz values of its small tridiagonal, and the first and last
 * components of their vectors (quadrature weights and residual bounds).
 *
 * Convergence is judged relative to the matrix's own scale (|e_m| <= eps (|d_m| + |e_m|) running
 * maximum), so a matrix scaled by 1e-16 converges exactly as one scaled by 1.
 */
export interface TridiagonalEigen {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** Unit eigenvectors as columns of a row-major n x n matrix, in the order of `values`. */
  vectors: Float64Array;
}

/**
 * @param diag the n diagonal entries
 * @param off the n - 1 off-diagonal entries (off[i] couples rows i and i + 1)
 */
export function tridiagonalEigen(diag: ArrayLike<number>, off: ArrayLike<number>): TridiagonalEigen {
  const n = diag.length;
  const { d, e } = working(diag, off);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  ql(d, e, n, V);
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => d[b] - d[a]);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) vectors[r * n + c] = V[r * n + idx[c]];
  return { values: Float64Array.from(idx, (i) => d[i]), vectors };
}

/** The eigenvalues alone, descending: O(n^2). */
export function tridiagonalEigenvalues(diag: ArrayLike<number>, off: ArrayLike<number>): Float64Array {
  const { d, e } = working(diag, off);
  ql(d, e, diag.length, undefined);
  return d.sort().reverse();
}

function working(diag: ArrayLike<number>, off: ArrayLike<number>): { d: Float64Array; e: Float64Array } {
  const n = diag.length;
  const e = new Float64Array(n);
  for (let i = 0; i + 1 < n; i++) e[i] = off[i];
  return { d: Float64Array.from(diag), e };
}

/** Implicit QL on (d, e) with e[i] coupling i and i + 1; d becomes the eigenvalues, V (if given) accumulates the rotations. */
function ql(d: Float64Array, e: Float64Array, n: number, V: Float64Array | undefined): void {
  const eps = 2 ** -52;
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error('tridiagonal eigenvalues: QL did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = pythag(p, 1);
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
          r = pythag(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (V) {
            for (let k = 0; k < n; k++) {
              const row = k * n;
              h = V[row + i + 1];
              V[row + i + 1] = s * V[row + i] + c * h;
              V[row + i] = c * V[row + i] - s * h;
            }
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

/** sqrt(a^2 + b^2) without overflow or destructive underflow (EISPACK's pythag): Math.hypot is several times slower in V8. */
function pythag(a: number, b: number): number {
  const x = Math.abs(a);
  const y = Math.abs(b);
  if (x > y) {
    const r = y / x;
    return x * Math.sqrt(1 + r * r);
  }
  if (y === 0) return x;
  const r = x / y;
  return y * Math.sqrt(1 + r * r);
}
