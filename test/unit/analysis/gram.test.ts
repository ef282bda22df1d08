import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createOrtGram } from '../../../src/core/analysis/gram';
import { Rng } from '../../../src/core/inputs/rng';
import { gramMatrix } from '../../../src/core/linalg/svd';
import type { RunnerFactory } from '../../../src/core/ports';
import { createOrtRunner } from '../../../src/runtime/ort';
import { expectClose } from '../../helpers';

describe('createOrtGram', () => {
  it('computes A A^T of a wide and A^T A of a tall matrix as the JavaScript Gram does, one session each', async () => {
    let sessions = 0;
    const counting: RunnerFactory = (m, o) => (sessions++, createOrtRunner(m, o));
    const { gram, dispose } = await createOrtGram(counting, 'cpu');
    try {
      const rng = new Rng(7);
      for (const [m, n] of [[5, 9], [9, 5], [6, 6], [11, 3]]) {
        const a = Float64Array.from({ length: m * n }, () => rng.normal());
        expectClose(await gram(a, m, n), gramMatrix(a, m, n), 1e-13, 1e-13, `${m}x${n}`);
      }
      assert.equal(sessions, 2);
    } finally {
      await dispose();
    }
  });

  it('falls back to JavaScript when no session can be made', async () => {
    const failing: RunnerFactory = () => Promise.reject(new Error('no onnxruntime'));
    const { gram, dispose } = await createOrtGram(failing, 'cpu');
    const a = Float64Array.from([1, 2, 3, 4, 5, 6]);
    expectClose(await gram(a, 3, 2), gramMatrix(a, 3, 2), 0, 0);
    await dispose();
  });
});
