import { symmetricEigenvalues } from './symmetricEigen';

/** Above this many floating-point operations the circular spectrum is skipped (a few seconds of JS). */
export const CIRCULAR_SPECTRUM_MAX_FLOPS = 2e9;

/**
 * Singular values of a 2-D convolution with circular padding and stride 1 on an n1 x n2 input
 * (Sedghi, Gupta and Long, 2019): the union over frequencies (u, v) of the singular values of the
 * O x C matrix A_uv = sum_ij K[:, :, i, j] exp(-2 pi i (u i / n1 + v j / n2)). Each is taken from
 * the Hermitian Gram matrix of the smaller side, written as the real symmetric [[X, -Y], [Y, X]]
 * whose eigenvalues are the Gram's, each twice.
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
  let at = 0;
  for (let u = 0; u < n1; u++) {
    for (let v = 0; v < n2; v++) {
      re.fill(0);
      im.fill(0);
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const phase = -2 * Math.PI * ((u * i) / n1 + (v * j) / n2);
          const cr = Math.cos(phase);
          const ci = Math.sin(phase);
          for (let p = 0; p < o; p++) {
            for (let q = 0; q < c; q++) {
              const w = kernel[((p * c + q) * kh + i) * kw + j];
              re[p * c + q] += w * cr;
              im[p * c + q] += w * ci;
            }
          }
        }
      }
      // Gram of the smaller side: G = A^H A (C x C) when C <= O, else A A^H (O x O)
      big.fill(0);
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          let gr = 0;
          let gi = 0;
          const n = c <= o ? o : c;
          for (let t = 0; t < n; t++) {
            // entries x = A[t][a], y = A[t][b] (C <= O) or x = conj(A[a][t]), y = conj(A[b][t])
            const [xr, xi, yr, yi] = c <= o
              ? [re[t * c + a], im[t * c + a], re[t * c + b], im[t * c + b]]
              : [re[a * c + t], -im[a * c + t], re[b * c + t], -im[b * c + t]];
            // conj(x) * y
            gr += xr * yr + xi * yi;
            gi += xr * yi - xi * yr;
          }
          big[a * 2 * k + b] = gr;
          big[(a + k) * 2 * k + (b + k)] = gr;
          big[a * 2 * k + (b + k)] = -gi;
          big[(a + k) * 2 * k + b] = gi;
        }
      }
      const ev = symmetricEigenvalues(big, 2 * k);
      for (let e = 2 * k - 1; e >= 0; e -= 2) out[at++] = Math.sqrt(Math.max(ev[e], 0));
    }
  }
  return out.sort().reverse();
}

/** The work of {@link circularConvSingularValues}, to decide whether to run it. */
export function circularSpectrumFlops(dims: number[], n1: number, n2: number): number {
  const [o, c, kh, kw] = dims;
  const k = Math.min(o, c);
  return n1 * n2 * (o * c * kh * kw * 2 + k * k * Math.max(o, c) * 4 + (4 / 3) * (2 * k) ** 3 * 2);
}
