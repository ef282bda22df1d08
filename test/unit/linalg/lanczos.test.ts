import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../../src/core/inputs/rng';
import { tridiagonalEigen, tridiagonalEigenvalues } from '../../../src/core/linalg/tridiagonalEigen';
import { dot, golubKahanLanczos, reorthogonalize, type LinearOperator } from '../../../src/core/linalg/lanczos';
import { singularValues } from '../../../src/core/linalg/svd';
import { expectClose } from '../../helpers';
import { withSingularValues } from './testMatrices';

function dense(a: Float64Array, m: number, n: number): LinearOperator {
  return {
    m,
    n,
    matvec: async (v) => Float64Array.from({ length: m }, (_, i) => v.reduce((s, x, j) => s + a[i * n + j] * x, 0)),
    rmatvec: async (u) => Float64Array.from({ length: n }, (_, j) => u.reduce((s, x, i) => s + a[i * n + j] * x, 0)),
  };
}

describe('reorthogonalize', () => {
  /** k orthonormal vectors of length n (Gram-Schmidt of random vectors). */
  const orthonormal = (rng: Rng, n: number, k: number): Float64Array[] => {
    const basis: Float64Array[] = [];
    for (let j = 0; j < k; j++) {
      const b = Float64Array.from({ length: n }, () => rng.normal());
      for (let pass = 0; pass < 2; pass++) for (const q of basis) { const d = dot(b, q); for (let i = 0; i < n; i++) b[i] -= d * q[i]; }
      const norm = Math.sqrt(dot(b, b));
      basis.push(b.map((x) => x / norm));
    }
    return basis;
  };
  const worst = (x: Float64Array, basis: Float64Array[]) => Math.max(...basis.map((b) => Math.abs(dot(x, b)))) / Math.sqrt(dot(x, x));

  it('leaves x orthogonal to the basis to working precision, also when x lies almost in its span (the second sweep)', () => {
    const rng = new Rng(3);
    const n = 1001;
    const basis = orthonormal(rng, n, 30);
    for (const tiny of [1, 1e-4, 1e-8, 1e-12]) {
      // x = (a combination of the basis) + tiny * (a direction outside it): one sweep leaves O(eps / tiny) behind
      const outside = Float64Array.from({ length: n }, () => rng.normal());
      reorthogonalize(outside, basis);
      const x = Float64Array.from(outside, (v) => v * tiny);
      for (const b of basis) { const c = rng.normal(); for (let i = 0; i < n; i++) x[i] += c * b[i]; }
      reorthogonalize(x, basis);
      assert.ok(worst(x, basis) < 1e-13, `tiny ${tiny}: |x . b| / |x| = ${worst(x, basis)}`);
      const kept = dot(x, outside) / Math.sqrt(dot(x, x) * dot(outside, outside));
      assert.ok(Math.abs(kept - 1) < 1e-6, `tiny ${tiny}: what is left is the outside direction (cosine ${kept})`);
    }
  });

  it('works a cache block at a time: a vector several blocks long, not a multiple of the block', () => {
    const rng = new Rng(4);
    const n = 5003;
    const basis = orthonormal(rng, n, 12);
    const x = Float64Array.from({ length: n }, () => rng.normal());
    for (const b of basis) { const c = 100 * rng.normal(); for (let i = 0; i < n; i++) x[i] += c * b[i]; }
    reorthogonalize(x, basis);
    assert.ok(worst(x, basis) < 1e-13, `|x . b| / |x| = ${worst(x, basis)}`);
  });

  it('dot sums every element (lengths not a multiple of 4)', () => {
    for (const n of [0, 1, 3, 4, 5, 7, 8, 9]) {
      const x = Float64Array.from({ length: n }, (_, i) => i + 1);
      assert.equal(dot(x, x), (n * (n + 1) * (2 * n + 1)) / 6, `n = ${n}`);
    }
  });
});

describe('tridiagonalEigen', () => {
  /** T q = lambda q for every column, and the columns orthonormal. */
  const checkPairs = (d: number[], e: number[], values: Float64Array, vectors: Float64Array, tol: number) => {
    const n = d.length;
    for (let c = 0; c < n; c++) {
      for (let r = 0; r < n; r++) {
        const tq = d[r] * vectors[r * n + c] + (r > 0 ? e[r - 1] * vectors[(r - 1) * n + c] : 0) + (r + 1 < n ? e[r] * vectors[(r + 1) * n + c] : 0);
        assert.ok(Math.abs(tq - values[c] * vectors[r * n + c]) <= tol, `pair ${c}, row ${r}`);
      }
      let sq = 0;
      for (let r = 0; r < n; r++) sq += vectors[r * n + c] ** 2;
      assert.ok(Math.abs(sq - 1) < 1e-12);
    }
  };

  it('diagonalises a symmetric tridiagonal matrix: T q = lambda q, values descending', () => {
    const d = [4, 3, 5, -1, 2];
    const e = [1, 2, 0.5, 3];
    const { values, vectors } = tridiagonalEigen(d, e);
    checkPairs(d, e, values, vectors, 1e-12);
    expectClose(tridiagonalEigenvalues(d, e), values, 1e-13, 1e-13, 'values alone');
    for (let i = 1; i < values.length; i++) assert.ok(values[i - 1] >= values[i]);
    // trace and Frobenius norm are kept
    expectClose([values.reduce((a, b) => a + b, 0)], [13], 1e-13, 0, 'trace');
  });

  it('converges relative to the scale: the same matrix times 1e-16 gives the same values times 1e-16', () => {
    // an absolute stopping threshold would call this matrix diagonal (and its largest value 0)
    const d = [0, 0, 0, 0];
    const e = [3, 1, 2];
    const one = tridiagonalEigenvalues(d, e);
    const tiny = tridiagonalEigenvalues(d, e.map((x) => x * 1e-16));
    expectClose(tiny.map((x) => x * 1e16), one, 1e-12, 0, 'scaled');
    assert.ok(one[0] > 3);
  });

  it('gives the Golub-Kahan matrix of a bidiagonal its +- singular values', () => {
    // B = [[2, 1], [0, 1]]: singular values sqrt(3 +- sqrt(5))
    const values = tridiagonalEigenvalues([0, 0, 0, 0], [2, 1, 1]);
    const s1 = Math.sqrt(3 + Math.sqrt(5));
    const s2 = Math.sqrt(3 - Math.sqrt(5));
    expectClose(values, [s1, s2, -s2, -s1], 1e-13, 0, 'values');
  });
});

describe('golubKahanLanczos', () => {
  it('finds the largest singular value of a 60x80 matrix with a decaying spectrum within its residual bound', async () => {
    const s = Array.from({ length: 60 }, (_, i) => 10 * 0.9 ** i);
    const a = withSingularValues(60, 80, s, 5);
    const r = await golubKahanLanczos(dense(a, 60, 80), new Rng(1), 30, 1e-8);
    assert.ok(Math.abs(r.ritz[0] - 10) <= Math.max(r.residual[0], 1e-9), `theta ${r.ritz[0]} residual ${r.residual[0]}`);
    assert.ok(Math.abs(r.ritz[0] - 10) < 1e-8);
    assert.ok(r.converged);
  });

  it('with as many steps as the input dimension, finds every singular value, also when ill-conditioned (kappa 1e5)', async () => {
    // A tall matrix: the start vector lies in the row space, so 20 steps span it and the Ritz values are exact.
    const s = Array.from({ length: 20 }, (_, i) => 10 ** (1 - (5 * i) / 19));
    const a = withSingularValues(25, 20, s, 7);
    const r = await golubKahanLanczos(dense(a, 25, 20), new Rng(2), 20, 0);
    expectClose(r.ritz, s, 1e-8, 0, 'ritz vs truth');
    expectClose(singularValues(a, 25, 20), s, 1e-6, 0, 'dense (Gram) vs truth');
  });

  it('topOnly (no stored bases) finds the largest singular value within its residual bound, run past the point where orthogonality is lost', async () => {
    // a slowly decaying spectrum and 40 steps on a 60x80 matrix: without reorthogonalisation the
    // vectors lose orthogonality once the top Ritz value converges, which must not move it
    const s = Array.from({ length: 60 }, (_, i) => 10 * 0.97 ** i);
    const a = withSingularValues(60, 80, s, 5);
    for (const tol of [1e-6, 0]) {
      const top = await golubKahanLanczos(dense(a, 60, 80), new Rng(1), 40, tol, true);
      const full = await golubKahanLanczos(dense(a, 60, 80), new Rng(1), 40, tol);
      assert.ok(Math.abs(top.ritz[0] - 10) <= Math.max(top.residual[0], 1e-12), `tol ${tol}: theta ${top.ritz[0]} residual ${top.residual[0]}`);
      assert.ok(Math.abs(top.ritz[0] - full.ritz[0]) <= top.residual[0] + full.residual[0] + 1e-12, `tol ${tol}: ${top.ritz[0]} vs ${full.ritz[0]}`);
      assert.ok(top.ritz[0] <= 10 * (1 + 1e-12), 'a Ritz value never exceeds sigma_max');
    }
  });

  it('has quadrature weights that sum to 1', async () => {
    const a = withSingularValues(15, 15, Array.from({ length: 15 }, (_, i) => 1 + i), 9);
    const r = await golubKahanLanczos(dense(a, 15, 15), new Rng(3), 8, 0);
    assert.ok(Math.abs(r.weights.reduce((x, y) => x + y, 0) - 1) < 1e-12);
  });
});

describe('stochastic Lanczos quadrature (densityOf over several probes)', () => {
  it('estimates the singular value density of a 200x200 matrix with a known two-cluster spectrum', async () => {
    const { densityOf } = await import('../../../src/core/analysis/jacobian');
    // 150 values near 0.1 and 50 near 10
    const s = Array.from({ length: 200 }, (_, i) => (i < 50 ? 10 * (1 + 0.01 * i) : 0.1 * (1 + 0.002 * i)));
    const a = withSingularValues(200, 200, [...s].sort((x, y) => y - x), 11);
    const op = dense(a, 200, 200);
    const rng = new Rng(5);
    const probes = [];
    for (let p = 0; p < 8; p++) {
      const r = await golubKahanLanczos(op, rng, 16, 0);
      probes.push({ values: r.ritz, weights: r.weights });
    }
    const d = densityOf(probes, 'ritz');
    const massAbove1 = d.density.mass.reduce((acc, m, i) => acc + (d.density.edges[i] >= 1 ? m : 0), 0);
    const errAbove1 = Math.sqrt(d.density.stderr.reduce((acc, e, i) => acc + (d.density.edges[i] >= 1 ? e * e : 0), 0));
    // the true fraction of singular values above 1 is 50 / 200
    assert.ok(Math.abs(massAbove1 - 0.25) <= 3 * errAbove1 + 0.05, `mass above 1: ${massAbove1} ± ${errAbove1}`);
    assert.ok(Math.abs(d.weights.reduce((x, y) => x + y, 0) - 1) < 1e-9);
  });
});
