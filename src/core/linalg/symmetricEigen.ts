import { tridiagonalEigenvalues } from './tridiagonalEigen';

/** Columns per panel of the blocked tridiagonalisation (LAPACK's dsytrd uses 32). */
export const TRIDIAGONAL_BLOCK = 32;

/** Trailing blocks of at most this order are finished column by column (LAPACK's crossover, ilaenv's nx, is 128). */
const BLOCKED_MIN_ORDER = 128;

/**
 * Eigenvalues of a real symmetric matrix: Householder reduction to tridiagonal form, then the
 * implicit QL algorithm ({@link tridiagonalEigenvalues}), in float64. O(n^3); values
 * are accurate to about eps * ||A||.
 *
 * @param a the n x n matrix, row-major; only read.
 * @param block columns per panel of the reduction ({@link TRIDIAGONAL_BLOCK}); 1 reduces column
 *   by column (LAPACK's dsytd2), which the benchmark compares against.
 * @returns the n eigenvalues in ascending order.
 */
export function symmetricEigenvalues(a: Float64Array, n: number, block = TRIDIAGONAL_BLOCK): Float64Array {
  if (n === 0) return new Float64Array(0);
  const v = a.slice();
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonalize(v, n, d, e, block);
  return tridiagonalEigenvalues(d, e.subarray(0, n - 1)).reverse();
}

/**
 * Householder tridiagonalisation, values only, touching only the upper triangle (row-major: row k
 * right of the diagonal is column k below it, so every inner loop reads contiguous memory). On
 * return d holds the diagonal and e[i] the coupling between rows i and i + 1 (e[n - 1] = 0). A is
 * overwritten.
 *
 * Blocked as LAPACK's dsytrd: a panel of `nb` reflectors is made against the trailing matrix as
 * it stands after the panel's earlier reflectors, without applying them (dlatrd: A' = A - U W^T
 * - W U^T, its products with a vector taken from A and the panel's narrow U and W); the trailing
 * matrix is then updated once per panel by the rank-2nb product (dsyr2k). Each column still reads
 * the trailing matrix once (its product with the reflector) but no longer rewrites it, and the
 * update runs from cache. The last BLOCKED_MIN_ORDER columns go one by one (dsytd2).
 */
function tridiagonalize(A: Float64Array, n: number, d: Float64Array, e: Float64Array, nb: number): void {
  let k0 = 0;
  if (nb > 1) {
    const U = new Float64Array(nb * n);
    const W = new Float64Array(nb * n);
    const p = new Float64Array(n);
    for (; n - k0 > Math.max(BLOCKED_MIN_ORDER, nb + 2); k0 += nb) {
      panel(A, n, k0, nb, U, W, p, d, e);
      rank2kUpdate(A, n, k0 + nb, nb, U, W);
    }
  }
  unblocked(A, n, k0, d, e);
}

/**
 * The Householder reflector of column k below the diagonal (row k right of it, by symmetry): the
 * unit vector u = (x - alpha e1) / ||x - alpha e1|| written to out[off + k + 1 .. off + n), and
 * alpha = -sign(x_0) ||x||, the new subdiagonal entry. `reflects` is false when the column is
 * already reduced (out is then left as it was).
 */
function reflector(A: Float64Array, n: number, k: number, out: Float64Array, off: number): { alpha: number; reflects: boolean } {
  const rowK = k * n;
  let norm2 = 0;
  for (let j = k + 1; j < n; j++) norm2 += A[rowK + j] ** 2;
  const x0 = A[rowK + k + 1];
  const alpha = x0 >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
  if (norm2 === 0) return { alpha, reflects: false };
  let un = 0;
  for (let j = k + 1; j < n; j++) {
    const x = A[rowK + j] - (j === k + 1 ? alpha : 0);
    out[off + j] = x;
    un += x * x;
  }
  if (un === 0) return { alpha, reflects: false };
  un = 1 / Math.sqrt(un);
  for (let j = k + 1; j < n; j++) out[off + j] *= un;
  return { alpha, reflects: true };
}

/**
 * Reflectors k0 .. k0 + nb - 1 against the trailing matrix A' = A - U W^T - W U^T (A as it was at
 * the panel's start, U and W the panel's reflectors so far, as rows of length n). Reflector t is
 * H = I - 2 u u^T with ||u|| = 1 and H A' H = A' - u w^T - w u^T for w = 2 (A'u - (u.A'u) u).
 */
function panel(A: Float64Array, n: number, k0: number, nb: number, U: Float64Array, W: Float64Array, p: Float64Array, d: Float64Array, e: Float64Array): void {
  for (let i = 0; i < nb; i++) {
    const k = k0 + i;
    const rowK = k * n;
    // column k of A' (row k from the diagonal on): A's, less the panel's earlier reflectors
    for (let t = 0; t < i; t++) {
      const ut = t * n;
      const a = U[ut + k];
      const b = W[ut + k];
      for (let j = k; j < n; j++) A[rowK + j] -= a * W[ut + j] + b * U[ut + j];
    }
    d[k] = A[rowK + k];
    const u = i * n;
    const w = i * n;
    U.fill(0, u, u + n);
    W.fill(0, w, w + n);
    const r = reflector(A, n, k, U, u);
    e[k] = r.alpha;
    if (!r.reflects) continue;
    // p = A u on the trailing block (rows and columns after k, untouched since the panel began)
    symmetricProduct(A, n, k + 1, U, u, p);
    // A'u = A u - U (W^T u) - W (U^T u), over the panel's earlier reflectors
    for (let t = 0; t < i; t++) {
      const ut = t * n;
      let cu = 0;
      let cw = 0;
      for (let j = k + 1; j < n; j++) {
        cu += U[ut + j] * U[u + j];
        cw += W[ut + j] * U[u + j];
      }
      for (let j = k + 1; j < n; j++) p[j] -= U[ut + j] * cw + W[ut + j] * cu;
    }
    let up = 0;
    for (let j = k + 1; j < n; j++) up += U[u + j] * p[j];
    for (let j = k + 1; j < n; j++) W[w + j] = 2 * (p[j] - up * U[u + j]);
  }
}

/** p[from..n) = A x on the trailing block from row and column `from`, from its upper triangle (x = X[at + j]), two rows at a time. */
function symmetricProduct(A: Float64Array, n: number, from: number, X: Float64Array, at: number, p: Float64Array): void {
  p.fill(0, from, n);
  let i = from;
  for (; i + 1 < n; i += 2) {
    const r0 = i * n;
    const r1 = r0 + n;
    const x0 = X[at + i];
    const x1 = X[at + i + 1];
    const a01 = A[r0 + i + 1];
    let s0 = A[r0 + i] * x0 + a01 * x1;
    let s1 = a01 * x0 + A[r1 + i + 1] * x1;
    for (let j = i + 2; j < n; j++) {
      const a0 = A[r0 + j];
      const a1 = A[r1 + j];
      const xj = X[at + j];
      s0 += a0 * xj;
      s1 += a1 * xj;
      p[j] += a0 * x0 + a1 * x1;
    }
    p[i] += s0;
    p[i + 1] += s1;
  }
  if (i < n) p[i] += A[i * n + i] * X[at + i];
}

/**
 * The trailing block from row and column `from`, upper triangle: A -= U^T W + W^T U over the
 * panel's nb rows of U and W (dsyr2k), two rows and two reflectors at a time (each load of U and W
 * serves two rows: 1.5x the speed of four reflectors on one row).
 */
function rank2kUpdate(A: Float64Array, n: number, from: number, nb: number, U: Float64Array, W: Float64Array): void {
  let r = from;
  for (; r + 1 < n; r += 2) {
    const row0 = r * n;
    const row1 = row0 + n;
    let t = 0;
    for (; t + 1 < nb; t += 2) {
      const o0 = t * n;
      const o1 = o0 + n;
      const a0 = U[o0 + r], b0 = W[o0 + r], a1 = U[o1 + r], b1 = W[o1 + r];
      const c0 = U[o0 + r + 1], d0 = W[o0 + r + 1], c1 = U[o1 + r + 1], d1 = W[o1 + r + 1];
      A[row0 + r] -= a0 * W[o0 + r] + b0 * U[o0 + r] + a1 * W[o1 + r] + b1 * U[o1 + r];
      for (let c = r + 1; c < n; c++) {
        const w0 = W[o0 + c], u0 = U[o0 + c], w1 = W[o1 + c], u1 = U[o1 + c];
        A[row0 + c] -= a0 * w0 + b0 * u0 + a1 * w1 + b1 * u1;
        A[row1 + c] -= c0 * w0 + d0 * u0 + c1 * w1 + d1 * u1;
      }
    }
    for (; t < nb; t++) {
      const o = t * n;
      const a = U[o + r], b = W[o + r], c = U[o + r + 1], d = W[o + r + 1];
      A[row0 + r] -= a * W[o + r] + b * U[o + r];
      for (let j = r + 1; j < n; j++) {
        A[row0 + j] -= a * W[o + j] + b * U[o + j];
        A[row1 + j] -= c * W[o + j] + d * U[o + j];
      }
    }
  }
  if (r < n) {
    const row = r * n;
    for (let t = 0; t < nb; t++) A[row + r] -= 2 * U[t * n + r] * W[t * n + r];
  }
}

/**
 * Column by column from column `start` to the end (LAPACK's dsytd2): A <- H A H, the symmetric
 * product and the rank-2 update by rows. Fills d[start..n) and e[start..n).
 */
function unblocked(A: Float64Array, n: number, start: number, d: Float64Array, e: Float64Array): void {
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = start; k < n - 2; k++) {
    // column k below the diagonal is row k right of the diagonal (symmetry)
    const r = reflector(A, n, k, v, 0);
    e[k] = r.alpha;
    if (!r.reflects) continue;
    // p = A v on the trailing block, from its upper triangle
    symmetricProduct(A, n, k + 1, v, 0, p);
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
  for (let i = start; i < n; i++) d[i] = A[i * n + i];
  if (n - 2 >= start) e[n - 2] = A[(n - 2) * n + (n - 1)];
  e[n - 1] = 0;
}
