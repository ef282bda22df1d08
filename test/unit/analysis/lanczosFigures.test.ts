import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lanczosFigures, LANCZOS_STEPS } from '../../../src/core/analysis/jacobian';
import { Rng } from '../../../src/core/inputs/rng';
import type { LinearOperator } from '../../../src/core/linalg/lanczos';

/** A random Householder reflection I - 2 w w^T of size n. */
function householder(n: number, rng: Rng): Float64Array {
  const w = Float64Array.from({ length: n }, () => rng.normal());
  const norm = Math.hypot(...w);
  return w.map((x) => x / norm);
}

function reflect(x: Float64Array, ws: Float64Array[]): Float64Array {
  const y = Float64Array.from(x);
  for (const w of ws) {
    let d = 0;
    for (let i = 0; i < y.length; i++) d += w[i] * y[i];
    for (let i = 0; i < y.length; i++) y[i] -= 2 * d * w[i];
  }
  return y;
}

/**
 * The m x n operator U [diag(s) 0] V^T with U, V products of three random Householder reflections
 * (orthogonal, applied in O(n)): a matrix of a few thousand rows with a planted spectrum s.
 */
function planted(m: number, n: number, s: number[], seed: number): LinearOperator {
  const rng = new Rng(seed);
  const u = [0, 1, 2].map(() => householder(m, rng));
  const v = [0, 1, 2].map(() => householder(n, rng));
  return {
    m,
    n,
    matvec: async (x) => {
      const y = reflect(x, v.slice().reverse()); // V^T x (each reflection is its own inverse)
      const z = new Float64Array(m);
      for (let i = 0; i < s.length; i++) z[i] = s[i] * y[i];
      return reflect(z, u);
    },
    rmatvec: async (x) => {
      const y = reflect(x, u.slice().reverse());
      const z = new Float64Array(n);
      for (let i = 0; i < s.length; i++) z[i] = s[i] * y[i];
      return reflect(z, v);
    },
  };
}

/** The exact Frobenius norm for the rms gain (the Hutchinson estimate is tested elsewhere). */
const frobeniusOf = (s: number[]) => async () => ({ mean: s.reduce((a, x) => a + x * x, 0), stderr: 0 });

/** k singular values from sigmaMax down to sigmaMax / kappa: log-spread, or clustered at both ends. */
function spectrum(k: number, kappa: number, shape: 'spread' | 'clustered'): number[] {
  return Array.from({ length: k }, (_, i) => {
    const t = i / (k - 1);
    const u = shape === 'spread' ? t : t < 0.5 ? 0.02 * t : 1 - 0.02 * (1 - t);
    return 2 * kappa ** -u;
  });
}

describe('Lanczos figures at the engine\'s step count', () => {
  it(`reports sigma_min as an upper bound and kappa as a lower bound, never as measurements (${LANCZOS_STEPS} steps)`, async () => {
    // the review's case: 400 x 400, kappa 1000, where the smallest Ritz value gave kappa near 53
    const s = spectrum(400, 1000, 'spread');
    const f = await lanczosFigures(planted(400, 400, s, 1), new Rng(2), frobeniusOf(s));
    assert.equal(f.kinds.sigmaMin, 'upper-bound');
    assert.equal(f.kinds.conditionNumber, 'lower-bound');
    assert.ok(f.conditionNumber < 1000, `a lower bound below the truth, got ${f.conditionNumber}`);
    assert.ok(f.sigmaMin >= s[399] * (1 - 1e-9));
  });

  for (const kappa of [1e2, 1e4, 1e6]) {
    for (const shape of ['spread', 'clustered'] as const) {
      it(`holds its bounds and error bars on a 3000 x 2000 matrix with kappa ${kappa.toExponential(0)}, ${shape} ends`, async () => {
        const s = spectrum(2000, kappa, shape);
        const f = await lanczosFigures(planted(3000, 2000, s, 3), new Rng(4), frobeniusOf(s));
        const trueMax = s[0];
        const trueMin = s[s.length - 1];
        // sigma_max: the top Ritz value is at most the truth, and within its residual bound when it says it converged
        assert.ok(f.sigmaMax <= trueMax * (1 + 1e-12));
        if (f.kinds.sigmaMax === 'estimate') assert.ok(trueMax - f.sigmaMax <= f.errors.sigmaMax + 1e-12 * trueMax, `${trueMax - f.sigmaMax} > ${f.errors.sigmaMax}`);
        else assert.equal(f.kinds.sigmaMax, 'lower-bound');
        assert.equal(f.kinds.sigmaMin, 'upper-bound');
        assert.ok(f.sigmaMin >= trueMin * (1 - 1e-9), `sigma_min bound ${f.sigmaMin} below the truth ${trueMin}`);
        assert.equal(f.kinds.conditionNumber, 'lower-bound');
        assert.ok(f.conditionNumber <= (trueMax / trueMin) * (1 + 1e-9));
        const rms = Math.sqrt(s.reduce((a, x) => a + x * x, 0) / s.length);
        assert.ok(Math.abs(f.rmsGain - rms) <= 1e-12 * rms);
      });
    }
  }

  it('bounds sigma_min over the smaller side of a wide layer (more inputs than outputs), not by the null space', async () => {
    // a transformer MLP's down-projection: 1200 inputs, 300 outputs, weight singular values in [0.29, 0.84]
    const s = Array.from({ length: 300 }, (_, i) => 0.84 - (0.55 * i) / 299);
    const f = await lanczosFigures(planted(300, 1200, s, 5), new Rng(6), frobeniusOf(s));
    assert.ok(f.sigmaMin >= 0.29 * (1 - 1e-9), `sigma_min ${f.sigmaMin} came from the 900-dimensional null space`);
    assert.ok(f.conditionNumber <= 0.84 / 0.29 + 1e-9 && f.conditionNumber >= 1);
    assert.equal(f.inputSize, 1200);
    assert.equal(f.outputSize, 300);
  });

  it('reports every figure exact once the Krylov space is the whole smaller side', async () => {
    const s = spectrum(20, 50, 'spread');
    const f = await lanczosFigures(planted(20, 300, s, 7), new Rng(8), frobeniusOf(s));
    assert.deepEqual([f.kinds.sigmaMax, f.kinds.sigmaMin, f.kinds.conditionNumber], ['exact', 'exact', 'exact']);
    assert.ok(Math.abs(f.sigmaMin - s[19]) <= 1e-9 * s[0]);
    assert.ok(Math.abs(f.conditionNumber - 50) <= 1e-6 * 50);
  });
});
