import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { singularValues } from '../../../src/core/linalg/svd';
import { symmetricEigenvalues } from '../../../src/core/linalg/symmetricEigen';
import { expectClose } from '../../helpers';
import { randomOrthogonal, withEigenvalues, withSingularValues } from './testMatrices';
import { Rng } from '../../../src/core/inputs/rng';

describe('symmetricEigenvalues', () => {
  it('finds the eigenvalues of Q diag(l) Q^T for a random orthogonal Q (n = 40)', () => {
    const n = 40;
    const q = randomOrthogonal(n, new Rng(3));
    const l = Array.from({ length: n }, (_, i) => (i - 20) * 0.37);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += q[i * n + k] * l[k] * q[j * n + k];
    expectClose(symmetricEigenvalues(a, n), [...l].sort((x, y) => x - y), 0, 1e-12, 'eigenvalues');
  });

  it('finds a known spectrum at n = 1024 (blocked reduction) to 1e-12 ||A|| (about 450 eps): clusters, both signs, zeros, seven decades', () => {
    const n = 1024;
    const rng = new Rng(11);
    // a cluster of 100 equal values, 100 zeros, negatives, and values from 1e-6 to 10
    const l = Array.from({ length: n }, (_, i) => (i < 100 ? 2.5 : i < 200 ? 0 : i < 400 ? -(i - 199) / 40 : 10 ** (-6 + (7 * rng.uniform()))));
    const a = withEigenvalues(l, 6, 5);
    const got = symmetricEigenvalues(a, n);
    const want = [...l].sort((x, y) => x - y);
    expectClose(got, want, 0, 1e-12 * 10, 'eigenvalues');
  });

  it('gives the same values blocked and column by column, across panel and crossover boundaries', () => {
    for (const n of [129, 130, 161, 300]) {
      const rng = new Rng(n);
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rng.normal();
      const scale = Math.max(...symmetricEigenvalues(a, n, 1).map(Math.abs));
      expectClose(symmetricEigenvalues(a, n), symmetricEigenvalues(a, n, 1), 0, 1e-13 * scale, `n = ${n}`);
    }
  });

  it('handles 1x1, 2x2 and diagonal matrices', () => {
    expectClose(symmetricEigenvalues(Float64Array.from([5]), 1), [5], 0, 0);
    expectClose(symmetricEigenvalues(Float64Array.from([2, 1, 1, 2]), 2), [1, 3], 0, 1e-14);
    expectClose(symmetricEigenvalues(Float64Array.from([3, 0, 0, 0, -1, 0, 0, 0, 2]), 3), [-1, 2, 3], 0, 1e-14);
    // blocked: panels whose columns need no reflection
    const n = 300;
    const diagonal = new Float64Array(n * n);
    for (let i = 0; i < n; i++) diagonal[i * n + i] = n - 2 * i;
    expectClose(symmetricEigenvalues(diagonal, n), Array.from({ length: n }, (_, i) => 2 * i - n + 2), 0, 0);
  });
});

describe('singularValues', () => {
  it('recovers a known spectrum of a wide 12x30 matrix', () => {
    const s = [9, 5, 4, 3, 2.5, 2, 1.5, 1, 0.5, 0.25, 0.1, 0.01];
    expectClose(singularValues(withSingularValues(12, 30, s, 1), 12, 30), s, 1e-9, 1e-12, 'sigma');
  });

  it('recovers a known spectrum of a tall 30x12 matrix', () => {
    const s = [7, 3, 1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1];
    expectClose(singularValues(withSingularValues(30, 12, s, 2), 30, 12), s, 1e-9, 1e-12, 'sigma');
  });

  it('keeps sigma_min to 1e-6 relative at condition number 1e4', () => {
    const s = Array.from({ length: 16 }, (_, i) => 10 ** (2 - (6 * i) / 15)); // 100 .. 1e-4... kappa 1e6
    const got = singularValues(withSingularValues(16, 16, s.slice(0, 16).map((x) => Math.max(x, 1e-2)), 4), 16, 16);
    const want = s.map((x) => Math.max(x, 1e-2));
    expectClose(got, want, 1e-6, 0, 'sigma');
    assert.ok(got[15] > 0);
  });
});
