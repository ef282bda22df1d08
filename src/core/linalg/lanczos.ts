import type { Rng } from '../inputs/rng';
import { tridiagonalEigen } from './tridiagonalEigen';

/** A linear operator A: R^n -> R^m known only through products (a Jacobian). */
export interface LinearOperator {
  n: number;
  m: number;
  matvec(v: Float64Array): Promise<Float64Array>;
  rmatvec(u: Float64Array): Promise<Float64Array>;
}

/** Ritz estimates of singular values from Golub-Kahan-Lanczos, with their residual error bounds. */
export interface LanczosResult {
  /** Ritz values, descending (estimates of singular values: the largest converge first). */
  ritz: Float64Array;
  /** |sigma - theta_i| <= residual_i for some singular value sigma of A (Lanczos residual bound). */
  residual: Float64Array;
  /** Gauss quadrature weights of the Ritz values for the spectral density (sum to 1). */
  weights: Float64Array;
  steps: number;
  /** True when the top Ritz value's residual fell under the tolerance. */
  converged: boolean;
}

function normalize(x: Float64Array): number {
  const n = Math.sqrt(dot(x, x));
  if (n > 0) for (let i = 0; i < x.length; i++) x[i] /= n;
  return n;
}

/** The dot product x . y (plain loops, four partial sums: these vectors can hold millions of parameters). */
export function dot(x: Float64Array, y: Float64Array): number {
  return blockDot(x, y, 0, x.length);
}

/** Kahan-Parlett/DGKS: a Gram-Schmidt pass that keeps more than this fraction of the norm left x orthogonal to working precision. */
const KEEP = Math.SQRT1_2;

/**
 * Removes from x its components along every vector of the orthonormal `basis` (full
 * reorthogonalisation): a classical Gram-Schmidt pass (every coefficient from the same x, then one
 * update), repeated once when it removed much of x (the DGKS criterion; "twice is enough": CGS2 is
 * as orthogonal as modified Gram-Schmidt to working precision), so the second sweep runs only when
 * orthogonality was being lost, as it is near converged Ritz vectors. Both sweeps go through x a
 * block at a time, the block staying in cache while the basis streams past it: the basis is read
 * twice a pass instead of x being read and written twice per basis vector.
 */
export function reorthogonalize(x: Float64Array, basis: Float64Array[]): void {
  const k = basis.length;
  if (k === 0) return;
  const n = x.length;
  const h = new Float64Array(k);
  let before = Math.sqrt(dot(x, x));
  for (let pass = 0; pass < 2; pass++) {
    h.fill(0);
    for (let lo = 0; lo < n; lo += REORTH_BLOCK) {
      const hi = Math.min(n, lo + REORTH_BLOCK);
      for (let j = 0; j < k; j++) h[j] += blockDot(x, basis[j], lo, hi);
    }
    let squared = 0;
    for (let lo = 0; lo < n; lo += REORTH_BLOCK) {
      const hi = Math.min(n, lo + REORTH_BLOCK);
      for (let j = 0; j < k; j++) {
        const b = basis[j];
        const c = h[j];
        for (let i = lo; i < hi; i++) x[i] -= c * b[i];
      }
      squared += blockDot(x, x, lo, hi);
    }
    const after = Math.sqrt(squared);
    if (after > KEEP * before) return;
    before = after;
  }
}

/** Elements of x per block of {@link reorthogonalize}: 16 KB of float64, within a core's L1 cache. */
const REORTH_BLOCK = 2048;

/** x[lo..hi) . y[lo..hi), four partial sums. */
function blockDot(x: Float64Array, y: Float64Array, lo: number, hi: number): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = lo;
  for (; i + 3 < hi; i += 4) {
    a += x[i] * y[i];
    b += x[i + 1] * y[i + 1];
    c += x[i + 2] * y[i + 2];
    d += x[i + 3] * y[i + 3];
  }
  for (; i < hi; i++) a += x[i] * y[i];
  return a + b + (c + d);
}

/**
 * Golub-Kahan-Lanczos bidiagonalisation with full reorthogonalisation (DOMAIN.md section 3): A V = U B
 * with B upper bidiagonal; the singular values of B are Ritz values of A. Stops after `maxSteps`
 * or once the largest Ritz value's residual bound is below `tol` times it.
 *
 * `topOnly`: only the largest singular value is wanted, so the bases are not kept and each vector
 * is orthogonalised against the previous one alone (the recurrence itself). Lost orthogonality then
 * only adds copies of converged Ritz values (Paige) and never moves the largest one, whose residual
 * bound holds to working precision; the small Ritz values are not to be trusted. Full
 * reorthogonalisation streams the whole basis at every step, the larger part of a probe's cost for
 * vectors of 64k values; this costs two vectors.
 */
export async function golubKahanLanczos(op: LinearOperator, rng: Rng, maxSteps = 40, tol = 1e-6, topOnly = false): Promise<LanczosResult> {
  const steps = Math.min(maxSteps, op.n, op.m);
  const V: Float64Array[] = [];
  const U: Float64Array[] = [];
  const alpha: number[] = [];
  const beta: number[] = [];
  let v: Float64Array = new Float64Array(op.n);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  normalize(v);
  let u: Float64Array = await op.matvec(v);
  V.push(v);
  let a = normalize(u);
  let result: LanczosResult | undefined;
  for (let j = 0; j < steps; j++) {
    if (a === 0) break;
    alpha.push(a);
    U.push(u);
    const w = await op.rmatvec(u);
    for (let i = 0; i < w.length; i++) w[i] -= a * v[i];
    if (!topOnly) reorthogonalize(w, V);
    const b = normalize(w);
    beta.push(b);
    result = ritz(alpha, beta);
    if (b === 0 || j === steps - 1 || result.residual[0] <= tol * result.ritz[0]) {
      result.converged = b === 0 || result.residual[0] <= tol * result.ritz[0];
      break;
    }
    v = w;
    if (topOnly) {
      V.length = 0;
      U.splice(0, U.length - 1);
    }
    V.push(v);
    u = await op.matvec(v);
    const last = U[U.length - 1];
    for (let i = 0; i < u.length; i++) u[i] -= b * last[i];
    if (!topOnly) reorthogonalize(u, U);
    a = normalize(u);
  }
  return result ?? { ritz: new Float64Array([0]), residual: new Float64Array([0]), weights: new Float64Array([1]), steps: 0, converged: true };
}

/**
 * Ritz values of the k x k upper bidiagonal B (diag alpha, superdiag beta[0..k-2]), from the
 * eigenvalues of the 2k x 2k Golub-Kahan matrix [[0, B^T], [B, 0]] in interleaved order (a
 * tridiagonal with zero diagonal and off-diagonal alpha_1, beta_1, alpha_2, ...): its eigenvalues
 * are +-theta_i, so nothing is squared and small Ritz values keep their relative accuracy. The
 * eigenvector of +theta_i interleaves q_i and p_i (B q = theta p): residual_i = beta_k |p_i[k-1]|,
 * and the quadrature weight of theta_i is q_i[0]^2.
 */
function ritz(alpha: number[], beta: number[]): LanczosResult {
  const k = alpha.length;
  const n = 2 * k;
  const off = new Float64Array(n - 1);
  for (let i = 0; i < n - 1; i++) off[i] = i % 2 === 0 ? alpha[i >> 1] : beta[i >> 1];
  const { values, vectors } = tridiagonalEigen(new Float64Array(n), off);
  const theta = new Float64Array(k);
  const residual = new Float64Array(k);
  const weights = new Float64Array(k);
  const betaK = beta[k - 1] ?? 0;
  for (let i = 0; i < k; i++) {
    theta[i] = Math.max(values[i], 0);
    // components: q_i at even rows, p_i at odd rows, each half of the unit eigenvector
    const pLast = vectors[(2 * k - 1) * n + i] * Math.SQRT2;
    const qFirst = vectors[i] * Math.SQRT2;
    residual[i] = Math.abs(betaK * pLast);
    weights[i] = qFirst * qFirst;
  }
  const total = weights.reduce((a, b) => a + b, 0);
  if (total > 0) for (let i = 0; i < k; i++) weights[i] /= total;
  return { ritz: theta, residual, weights, steps: k, converged: false };
}
