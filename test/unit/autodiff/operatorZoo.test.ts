import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DerivativeRunner, ForwardPass } from '../../../src/core/autodiff/probe';
import { Rng } from '../../../src/core/inputs/rng';
import type { NdArray } from '../../../src/core/ndarray';
import { decodeModel } from '../../../src/core/onnx/decode';
import { validateGraph } from '../../../src/core/onnx/validate';
import { analyzeFile } from '../../../src/runtime/engine';
import { createOrtRunner } from '../../../src/runtime/ort';
import { model } from '../../helpers';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i], 0);

describe('the operators of real models, as PyTorch exports them (operator_zoo fixture)', () => {
  it('analyses every layer, the end-to-end Jacobian and the curvature exactly, with no finite-difference estimate', async () => {
    const r = await analyzeFile(model('operator_zoo'), { executionProvider: 'cpu', curvatureIterations: 3 });
    assert.ok(r.layers.length >= 4, r.layers.map((l) => l.name).join(', '));
    for (const l of r.layers) {
      assert.ok(l.jacobian.method === 'exact' || l.jacobian.method === 'lanczos', `${l.name}: ${l.jacobian.method} ${l.jacobian.note ?? ''}`);
      assert.equal(l.jacobian.note ?? undefined, undefined, l.name);
      assert.ok((l.gradient.inputNorm ?? 0) > 0, `${l.name}: gradient ${l.gradient.inputNorm}`);
    }
    assert.equal(r.endToEnd?.method, 'exact');
    assert.ok(r.curvature.hessianMaxEigenvalue !== null, r.curvature.reason);
    assert.match(r.curvature.method ?? '', /exact Hessian-vector products/);
  });

  it('has J v equal to central differences of the model, and <u, J v> = <J^T u, v>', async () => {
    const m = decodeModel(readFileSync(model('operator_zoo')));
    const order = validateGraph(m.graph);
    const rng = new Rng(13);
    const n = 4 * 8 * 8;
    const image = Float32Array.from({ length: n }, () => rng.normal());
    const sample = { image: { dtype: 'float32', dims: [1, 4, 8, 8], data: image } as NdArray };
    const forward = await ForwardPass.run(m, sample, createOrtRunner, 'cpu');
    const runner = new DerivativeRunner(forward, order, 17, createOrtRunner, 'cpu');
    const span = { sources: ['image'], targets: ['logits'] };
    const v = Float64Array.from({ length: n }, () => rng.normal());
    const u = Float64Array.from({ length: 5 }, () => rng.normal());
    const [jv] = await runner.jvp(span, [[v]]);
    const [jtu] = await runner.vjp(span, [[u]]);
    assert.deepEqual([...runner.estimated], []);
    await runner.dispose();
    const f = await createOrtRunner(m, { executionProvider: 'cpu' });
    const h = 1e-2;
    const at = async (sign: number) => (await f.run({ image: { ...sample.image, data: Float32Array.from(image, (x, i) => x + sign * h * v[i]) } as NdArray })).logits.data as Float32Array;
    const plus = await at(1);
    const minus = await at(-1);
    await f.dispose();
    const fd = Float64Array.from(plus, (p, i) => (p - minus[i]) / (2 * h));
    const err = Math.sqrt(fd.reduce((s, x, i) => s + (x - jv[0][i]) ** 2, 0) / dot(fd, fd));
    // float32 central differences with step 1e-2: truncation about h^2 and rounding about 1e-7 / h
    assert.ok(err < 2e-3, `relative error of J v against central differences ${err.toExponential(2)}`);
    const lhs = dot(u, jv[0]);
    const rhs = dot(jtu[0], v);
    assert.ok(Math.abs(lhs - rhs) <= 1e-5 * Math.abs(lhs), `<u, J v> ${lhs} vs <J^T u, v> ${rhs}`);
  });
});
