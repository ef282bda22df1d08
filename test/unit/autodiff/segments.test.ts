import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spanNodes } from '../../../src/core/autodiff/derivative';
import { DerivativeRunner, ForwardPass } from '../../../src/core/autodiff/probe';
import { segmentSpan } from '../../../src/core/autodiff/segments';
import { Rng } from '../../../src/core/inputs/rng';
import { float32Tensor } from '../../../src/core/onnx/tensorData';
import { DataType, type Model, type Node } from '../../../src/core/onnx/types';
import type { RunnerFactory } from '../../../src/core/ports';
import { validateGraph } from '../../../src/core/onnx/validate';
import { createOrtRunner } from '../../../src/runtime/ort';
import { expectClose } from '../../helpers';

const D = 4;

/** x -> MatMul(w0) -> `blocks` residual blocks of `depth` elementwise nodes (Add(h, f(h)), each f scaled by its own weight). */
function chainModel(blocks: number, depth: number): Model {
  const rng = new Rng(3);
  const nodes: Node[] = [];
  const inits = new Map([['w0', float32Tensor('w0', [D, D], Array.from({ length: D * D }, () => rng.normal() * 0.5))]]);
  const node = (opType: string, inputs: string[], out: string) => {
    nodes.push({ name: out, opType, domain: '', inputs, outputs: [out], attributes: [], metadata: {} });
    return out;
  };
  let h = node('MatMul', ['x', 'w0'], 'h0');
  for (let b = 0; b < blocks; b++) {
    const s = `s${b}`;
    inits.set(s, float32Tensor(s, [D], Array.from({ length: D }, () => 0.5 + 0.1 * rng.normal())));
    let f = node('Mul', [h, s], `b${b}_scale`);
    for (let i = 0; i < depth; i++) f = node(['Tanh', 'Sigmoid', 'Softplus'][i % 3], [f], `b${b}_${i}`);
    h = node('Add', [h, f], `h${b + 1}`);
  }
  return {
    irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 't', producerVersion: '', domain: '', modelVersion: 0, docString: '', metadata: {}, passthrough: {},
    graph: {
      name: 'chain', nodes, initializers: inits, valueInfo: [], metadata: {}, passthrough: {},
      inputs: [{ name: 'x', type: { kind: 'tensor', elemType: DataType.FLOAT, shape: [2, D] } }], outputs: [{ name: h }],
    },
  };
}

/** A runner factory that records the node count of every model it compiles. */
function counting(sizes: number[]): RunnerFactory {
  return (model, options) => {
    sizes.push(model.graph.nodes.length);
    return createOrtRunner(model, options);
  };
}

describe('segmented derivatives of long spans', () => {
  it('cuts a chain into segments of bounded size at single-tensor cuts, each node in exactly one segment', () => {
    const model = chainModel(60, 10);
    const order = validateGraph(model.graph);
    const span = { sources: ['x', 'w0', 's0', 's30'], targets: [model.graph.outputs[0].name] };
    const nodes = spanNodes(model.graph, order, span);
    const segments = segmentSpan(nodes, span, 100);
    assert.ok(segments.length >= 5, `${segments.length} segments`);
    assert.deepEqual(segments.flatMap((s) => s.nodes), nodes);
    for (const s of segments.slice(0, -1)) assert.ok(s.nodes.length <= 150, `a segment of ${s.nodes.length} nodes`);
    for (const s of segments.slice(1)) assert.ok(s.span.sources.filter((t) => !span.sources.includes(t)).length <= 1, `frontier ${s.span.sources}`);
    // each weight enters the segment that reads it, and only that one
    assert.equal(segments.filter((s) => s.span.sources.includes('s30')).length, 1);
    assert.deepEqual(segments[segments.length - 1].span.targets, span.targets);
  });

  it('compiles only models of bounded size for a long span, and the products match the unsegmented ones', async () => {
    const blocks = 50;
    const model = chainModel(blocks, 12); // 701 nodes, segments of 100
    const order = validateGraph(model.graph);
    const rng = new Rng(11);
    const x = Float32Array.from({ length: 2 * D }, () => rng.normal());
    const forward = await ForwardPass.run(model, { x: { dtype: 'float32', dims: [2, D], data: x } }, createOrtRunner, 'cpu');
    const out = model.graph.outputs[0].name;
    const sources = ['x', 'w0', ...Array.from({ length: blocks }, (_, b) => `s${b}`)];
    const span = { sources, targets: [out] };
    const sizes: number[] = [];
    const segmented = new DerivativeRunner(forward, order, 17, counting(sizes), 'cpu', new Set(), 100);
    const v = sources.map((s) => [Float64Array.from({ length: (forward.shape(s) ?? []).reduce((a, b) => a * b, 1) }, () => rng.normal())]);
    const u = [[Float64Array.from({ length: 2 * D }, () => rng.normal())]];
    const jv = await segmented.jvp(span, v);
    const extra = ['h25', 'b40_3'];
    const jtu = await segmented.vjp(span, u, extra);
    await segmented.dispose();
    // the mechanism: no compiled model grows with the span (each is about one segment's nodes, a few derivative nodes per node)
    const nodeCount = model.graph.nodes.length;
    assert.ok(sizes.length >= 2 * 5, `${sizes.length} models compiled`);
    assert.ok(Math.max(...sizes) <= 6 * 150, `largest derivative model ${Math.max(...sizes)} nodes`);
    assert.ok(sizes.reduce((a, b) => a + b, 0) <= 12 * nodeCount, `compiled ${sizes.reduce((a, b) => a + b, 0)} nodes for ${nodeCount}`);
    const whole = new DerivativeRunner(forward, order, 17, createOrtRunner, 'cpu', new Set(), Infinity);
    const jvRef = await whole.jvp(span, v);
    const jtuRef = await whole.vjp(span, u, extra);
    await whole.dispose();
    expectClose(jv[0][0], jvRef[0][0], 1e-4, 1e-6, 'J v');
    assert.equal(jtu.length, sources.length + extra.length);
    jtu.forEach((g, i) => expectClose(g[0], jtuRef[i][0], 1e-4, 1e-6, `J^T u of ${[...sources, ...extra][i]}`));
  });
});
