import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NON_DIFFERENTIABLE, REGISTRY } from '../../../src/core/autodiff/registry';
import { secondOrderCheck } from './gradcheck';
import { CASES } from './ruleCases';

describe('forward rules of the reverse graphs the rules emit (forward-over-reverse)', () => {
  const emitted = new Set<string>();
  // the reverse graph is written in opset 17, so the combined model is one too (as the exact Hessian products' is)
  for (const c of CASES.filter((x) => !x.jvpOnly && (x.opset ?? 17) === 17)) {
    it(`${c.title}: d(J^T u)[v] matches FD of the reverse graph`, async () => {
      const r = await secondOrderCheck(c);
      for (const op of r.emitted) emitted.add(op);
      const tol = r.dtype === 'float64' ? 1e-5 : 1e-2;
      assert.ok(r.error < tol, `${r.dtype}: relative error ${r.error.toExponential(2)} > ${tol}`);
    });
  }

  it('every op type the rules emit has a forward rule or carries no derivative', () => {
    assert.ok(emitted.size > 20, `only ${emitted.size} op types collected`);
    const missing = [...emitted].filter((op) => !REGISTRY.has(op) && !NON_DIFFERENTIABLE.has(op));
    assert.deepEqual(missing, []);
  });
});
