import { symmetricEigenvalues } from './symmetricEigen';

/**
 * Above this many floating-point operations a convolution's circular spectrum is skipped (about a
 * tenth of a second of JS): it is a side figure of the weights (an approximation of the operator,
 * which the Lanczos operator norm measures anyway), not worth seconds of a right-click analysis.
 */
export const CIRCULAR_SPECTRUM_MAX_FLOPS = 2.5e8;

/**
 * Singular values of a 2-D convolution with circular padding and stride 1 on an n1 x n2 input
 * (Sedghi, Gupta and Long, 2019): the union over frequencies (u, v) of the singular values of the
 * O x C matrix A_uv = sum_ij K[:, :, i, j] exp(-2 pi i (u i / n1 + v j / n2)). Each is taken from
 * the Hermitian Gram matrix of the smaller side, written as the real symmetric [[X, -Y], [Y, X]]
 * whose eigenvalues are the Gram's, each twice.
 *
 * A real kernel makes A at (-u, -v) the conjugate of A at (u, v), with the same singular values, so
 * only half the frequencies are solved; and only the upper triangle of each Gram matrix is formed.
 *
 * @param kernel weights [O, C, kh, kw], row-major
 * @returns all n1 * n2 * min(O, C) singular values, descending
 */
export function circularConvSingularValues(kernel: Float64Array, dims: number[], n1: number, n2: number): Float64Array {
  const [o, c, kh, kw] = dims;
  const k = Math.min(o, c);
  const out = new Float64Array(n1 * n2 * k);
  const re = new Float64Array(o * c);
  const im = new Float64Array(o * c);
  const big = new Float64Array(4 * k * k);
  // the Gram of the smaller side: G = A^H A (C x C) when C <= O, else A A^H (O x O); entry (a, b) sums
  // conj(x_t) y_t over t, with x_t = A[t][a], y_t = A[t][b] (C <= O) or x_t = conj(A[a][t]), y_t = conj(A[b][t])
  const tall = c <= o;
  const len = tall ? o : c;
  const stride = tall ? c : 1; // step in t
  const pick = tall ? 1 : c; // step in a or b
  const conj = tall ? 1 : -1;
  let at = 0;
  for (let u = 0; u < n1; u++) {
    for (let v = 0; v < n2; v++) {
      const partner = ((n1 - u) % n1) * n2 + ((n2 - v) % n2);
      const self = u * n2 + v;
      if (partner < self) continue; // solved with its conjugate
      re.fill(0);
      im.fill(0);
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const phase = -2 * Math.PI * ((u * i) / n1 + (v * j) / n2);
          const cr = Math.cos(phase);
          const ci = Math.sin(phase);
          for (let pq = 0; pq < o * c; pq++) {
            const w = kernel[(pq * kh + i) * kw + j];
            re[pq] += w * cr;
            im[pq] += w * ci;
          }
        }
      }
      for (let a = 0; a < k; a++) {
        for (let b = a; b < k; b++) {
          let gr = 0;
          let gi = 0;
          for (let t = 0, xa = a * pick, yb = b * pick; t < len; t++, xa += stride, yb += stride) {
            const xr = re[xa];
            const xi = conj * im[xa];
            const yr = re[yb];
            const yi = conj * im[yb];
            gr += xr * yr + xi * yi;
            gi += xr * yi - xi * yr;
          }
          // [[X, -Y], [Y, X]] for G = X + iY (Hermitian: X symmetric, Y antisymmetric)
          big[a * 2 * k + b] = gr;
          big[b * 2 * k + a] = gr;
          big[(a + k) * 2 * k + (b + k)] = gr;
          big[(b + k) * 2 * k + (a + k)] = gr;
          big[a * 2 * k + (b + k)] = -gi;
          big[b * 2 * k + (a + k)] = gi;
          big[(a + k) * 2 * k + b] = gi;
          big[(b + k) * 2 * k + a] = -gi;
        }
      }
      const ev = symmetricEigenvalues(big, 2 * k);
      const copies = partner === self ? 1 : 2;
      for (let e = 2 * k - 1; e >= 0; e -= 2) for (let r = 0; r < copies; r++) out[at++] = Math.sqrt(Math.max(ev[e], 0));
    }
  }
  return out.sort().reverse();
}
/** The work of {@link circularConvSingularValues}, to decide whether to run it. */
export function circularSpectrumFlops(dims: number[], n1: number, n2: number): number {
  const [o, c, kh, kw] = dims;
  const k = Math.min(o, c);
  return (n1 * n2 / 2) * (o * c * kh * kw * 2 + k * k * Math.max(o, c) * 2 + (4 / 3) * (2 * k) ** 3);
}
