/**
 * The spectral radius of a square matrix (the largest |eigenvalue|, possibly complex), by Gelfand's
 * formula rho(A) = lim ||A^k||^(1/k): 2^s repeated squarings with rescaling, k = 2^s. The relative
 * error decays like O(log(n) / k); with s = 10 it is within a fraction of a percent for the small
 * recurrent matrices it is used on.
 */
export function spectralRadius(a: Float64Array, n: number, squarings = 10): number {
  let m: Float64Array = Float64Array.from(a);
  let logScale = 0;
  let k = 1;
  for (let s = 0; s < squarings; s++) {
    const f = frobenius(m);
    if (f === 0) return 0;
    for (let i = 0; i < m.length; i++) m[i] /= f;
    logScale = 2 * (logScale + Math.log(f));
    m = multiply(m, m, n);
    k *= 2;
  }
  const f = frobenius(m);
  return f === 0 ? 0 : Math.exp((logScale + Math.log(f)) / k);
}

function frobenius(m: Float64Array): number {
  let s = 0;
  for (const x of m) s += x * x;
  return Math.sqrt(s);
}

function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
    }
  }
  return c;
}
