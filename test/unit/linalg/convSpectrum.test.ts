import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../../src/core/inputs/rng';
import { circularConvSingularValues } from '../../../src/core/linalg/convSpectrum';
import { singularValues } from '../../../src/core/linalg/svd';
import { expectClose } from '../../helpers';

/** The dense matrix of a circular, stride-1 2-D convolution on n1 x n2 (channels-first, row-major). */
function denseCircularConv(k: Float64Array, [o, c, kh, kw]: number[], n1: number, n2: number): Float64Array {
  const rows = o * n1 * n2;
  const cols = c * n1 * n2;
  const m = new Float64Array(rows * cols);
  for (let p = 0; p < o; p++) for (let y = 0; y < n1; y++) for (let x = 0; x < n2; x++) {
    const r = (p * n1 + y) * n2 + x;
    for (let q = 0; q < c; q++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
      const col = (q * n1 + ((y + i) % n1)) * n2 + ((x + j) % n2);
      m[r * cols + col] += k[((p * c + q) * kh + i) * kw + j];
    }
  }
  return m;
}

describe('circularConvSingularValues', () => {
  // odd and even sizes: frequencies that are their own conjugate (u = 0, u = n / 2) and pairs
  for (const [o, c, n1, n2] of [[3, 2, 5, 4], [2, 4, 5, 4], [3, 3, 4, 6], [2, 3, 3, 3]]) {
    it(`equals the SVD of the dense circular convolution matrix (${o} out, ${c} in channels, 3x3 kernel, ${n1}x${n2} input)`, () => {
      const dims = [o, c, 3, 3];
      const rng = new Rng(o * 10 + c);
      const k = Float64Array.from({ length: o * c * 9 }, () => rng.normal());
      const got = circularConvSingularValues(k, dims, n1, n2);
      const want = singularValues(denseCircularConv(k, dims, n1, n2), o * n1 * n2, c * n1 * n2);
      assert.equal(got.length, want.length);
      expectClose(got, want, 1e-9, 1e-12, 'singular values');
    });
  }
});
