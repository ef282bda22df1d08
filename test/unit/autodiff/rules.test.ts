import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gradCheck } from './gradcheck';
import { CASES } from './ruleCases';

describe('derivative rules against central finite differences', () => {
  for (const c of CASES) {
    it(`${c.title}: J v matches FD and <u, J v> = <J^T u, v>`, async () => {
      const r = await gradCheck(c);
      const tol = r.dtype === 'float64' ? 1e-6 : 2e-3;
      assert.ok(r.jvpError < tol, `${r.dtype}: relative error of J v against FD ${r.jvpError.toExponential(2)} > ${tol}`);
      assert.ok(r.adjointError < (r.dtype === 'float64' ? 1e-10 : 1e-5), `${r.dtype}: adjoint mismatch ${r.adjointError.toExponential(2)}`);
    });
  }
});
