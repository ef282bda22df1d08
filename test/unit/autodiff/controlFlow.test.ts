import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantsToInitializers, inlineControlFlow } from '../../../src/core/autodiff/controlFlow';
import { DerivativeRunner, ForwardPass } from '../../../src/core/autodiff/probe';
import { UnsupportedDerivative } from '../../../src/core/autodiff/rule';
import { Rng } from '../../../src/core/inputs/rng';
import type { NdArray } from '../../../src/core/ndarray';
import { DataType, type Attribute, type Graph, type Model, type Node, type Tensor, type ValueInfo } from '../../../src/core/onnx/types';
import { validateGraph } from '../../../src/core/onnx/validate';
import { createOrtRunner } from '../../../src/runtime/ort';
import { expectClose } from '../../helpers';

const rng = new Rng(21);
const doubles = (name: string, dims: number[], scale = 0.6): Tensor => {
  const data = Float64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale);
  return { name, dataType: DataType.DOUBLE, dims, raw: new Uint8Array(data.buffer) };
};
const int64 = (name: string, values: number[], dims = [values.length]): Tensor => ({ name, dataType: DataType.INT64, dims, raw: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) });
const node = (opType: string, inputs: string[], outputs: string[], attributes: Attribute[] = [], name = outputs[0]): Node => ({ name, opType, domain: '', inputs, outputs, attributes, metadata: {} });
const tensorInfo = (name: string, elemType: DataType, shape?: number[]): ValueInfo => ({ name, type: { kind: 'tensor', elemType, shape } });
const graphOf = (name: string, nodes: Node[], inputs: ValueInfo[], outputs: string[], initializers: Tensor[] = []): Graph => ({
  name, nodes, inputs, outputs: outputs.map((o) => ({ name: o })), initializers: new Map(initializers.map((t) => [t.name, t])), valueInfo: [], metadata: {}, passthrough: {},
});
const modelOf = (graph: Graph, opset = 17): Model => ({
  irVersion: 8, opsetImports: [{ domain: '', version: opset }], producerName: 't', producerVersion: '', domain: '', modelVersion: 0, docString: '', metadata: {}, passthrough: {}, graph,
});
const x = (dims: number[]): NdArray => ({ dtype: 'float64', dims, data: Float64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal()) });

/** Inlines (forward pass, inline) until nothing changes; checks the outputs equal the original's and J v equals central differences of the original. */
async function checkInlined(model: Model, sample: Record<string, NdArray>, source: string): Promise<{ inlined: Model; how: string[] }> {
  const original = await createOrtRunner(model, { executionProvider: 'cpu' });
  const want = await original.run(sample);
  let current = model;
  const how: string[] = [];
  for (let round = 0; round < 3; round++) {
    const forward = await ForwardPass.run(current, sample, createOrtRunner, 'cpu');
    const r = inlineControlFlow(current, forward);
    how.push(...r.report.map((n) => `${n.opType} ${n.node}: ${n.how}`));
    if (!r.changed) break;
    current = r.model;
  }
  const order = validateGraph(current.graph);
  const forward = await ForwardPass.run(current, sample, createOrtRunner, 'cpu');
  const out = model.graph.outputs[0].name;
  for (const name of Object.keys(want)) expectClose(forward.values.get(name)?.data as Float64Array, want[name].data as Float64Array, 1e-12, 1e-12, name);
  const runner = new DerivativeRunner(forward, order, 17, createOrtRunner, 'cpu');
  const n = sample[source].data.length;
  const v = Float64Array.from({ length: n }, () => rng.normal());
  const [jv] = await runner.jvp({ sources: [source], targets: [out] }, [[v]]);
  await runner.dispose();
  const h = 1e-6;
  const shifted = async (sign: number) => {
    const data = Float64Array.from(sample[source].data as Float64Array, (value, i) => value + sign * h * v[i]);
    return (await original.run({ ...sample, [source]: { ...sample[source], data } as NdArray }))[out].data as Float64Array;
  };
  const plus = await shifted(1);
  const minus = await shifted(-1);
  const fd = Float64Array.from(plus, (p, i) => (p - minus[i]) / (2 * h));
  expectClose(jv[0], fd, 1e-6, 1e-8, 'J v against central differences of the original model');
  await original.dispose();
  return { inlined: current, how };
}

/** y = Tanh(If(Equal(rate, 16000)) then Sigmoid(x W) else x * x): a weight only inside the then branch. */
function ifModel(): Model {
  const thenBranch = graphOf('then', [node('MatMul', ['x', 'W'], ['xw'], [], '/branch/linear/MatMul'), node('Sigmoid', ['xw'], ['t_out'], [], '/branch/Sigmoid')], [], ['t_out'], [doubles('W', [3, 3])]);
  const elseBranch = graphOf('else', [node('Mul', ['x', 'x'], ['e_out'])], [], ['e_out']);
  return modelOf(graphOf('main', [
    node('Equal', ['rate', 'r16k'], ['is16k']),
    node('If', ['is16k'], ['branch_out'], [{ name: 'then_branch', type: 'graph', value: thenBranch }, { name: 'else_branch', type: 'graph', value: elseBranch }], '/If'),
    node('Tanh', ['branch_out'], ['y']),
  ], [tensorInfo('x', DataType.DOUBLE, [2, 3]), tensorInfo('rate', DataType.INT64, [])], ['y'], [int64('r16k', [16000], [])]));
}

describe('inlining control flow at the sample', () => {
  it('differentiates an If along the branch taken, and its weights become the model\'s own', async () => {
    const sample = (rate: number) => ({ x: x([2, 3]), rate: { dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(rate)) } as NdArray });
    const taken = await checkInlined(ifModel(), sample(16000), 'x');
    assert.deepEqual(taken.how, ['If /If: then branch']);
    assert.ok(taken.inlined.graph.initializers.has('W'), 'the branch weight is an initializer of the main graph');
    assert.ok(taken.inlined.graph.nodes.some((n) => n.name === '/branch/linear/MatMul'), 'the branch nodes keep their names (module paths)');
    const other = await checkInlined(ifModel(), sample(8000), 'x');
    assert.deepEqual(other.how, ['If /If: else branch']);
    assert.ok(!other.inlined.graph.initializers.has('W'));
  });

  it('stops exact derivatives at an If left as it is (no made-up zero), and differentiates it by finite differences', async () => {
    const model = ifModel();
    const sample = { x: x([2, 3]), rate: { dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) } as NdArray };
    const forward = await ForwardPass.run(model, sample, createOrtRunner, 'cpu');
    const order = validateGraph(model.graph);
    const runner = new DerivativeRunner(forward, order, 17, createOrtRunner, 'cpu');
    const span = { sources: ['x'], targets: ['y'] };
    const v = Float64Array.from({ length: 6 }, () => rng.normal());
    await assert.rejects(runner.jvp(span, [[v]]), (e: Error) => e instanceof UnsupportedDerivative && /If node '\/If'/.test(e.message));
    await assert.rejects(runner.vjp(span, [[Float64Array.from({ length: 6 }, () => 1)]]), (e: Error) => e instanceof UnsupportedDerivative && /If node '\/If'/.test(e.message));
    const fd = await runner.finiteDifference(span).jvp([v]);
    const exact = await checkInlined(model, sample, 'x');
    const inlinedForward = await ForwardPass.run(exact.inlined, sample, createOrtRunner, 'cpu');
    const inlinedRunner = new DerivativeRunner(inlinedForward, validateGraph(exact.inlined.graph), 17, createOrtRunner, 'cpu');
    const [jv] = await inlinedRunner.jvp(span, [[v]]);
    expectClose(fd[0], jv[0], 1e-4, 1e-6, 'finite differences through the If against the inlined branch');
    await runner.dispose();
    await inlinedRunner.dispose();
  });

  it('unrolls a Loop over the trip count, threading its state and stacking its scan output', async () => {
    const body = graphOf('body', [
      node('MatMul', ['h_in', 'Wb'], ['hw'], [], '/cell/MatMul'),
      node('Tanh', ['hw'], ['h_out'], [], '/cell/Tanh'),
      node('Identity', ['cond_in'], ['cond_out']),
      node('Mul', ['h_out', 'h_out'], ['sq']),
    ], [tensorInfo('i', DataType.INT64, []), tensorInfo('cond_in', DataType.BOOL, []), tensorInfo('h_in', DataType.DOUBLE, [2, 3])], ['cond_out', 'h_out', 'sq'], [doubles('Wb', [3, 3])]);
    const model = modelOf(graphOf('main', [
      node('Loop', ['M', '', 'x'], ['h_final', 'squares'], [{ name: 'body', type: 'graph', value: body }], '/Loop'),
      node('ReduceSum', ['squares'], ['s'], [{ name: 'keepdims', type: 'int', value: 0 }]),
      node('Add', ['h_final', 's'], ['y']),
    ], [tensorInfo('x', DataType.DOUBLE, [2, 3])], ['y'], [int64('M', [4], [])]));
    const r = await checkInlined(model, { x: x([2, 3]) }, 'x');
    assert.deepEqual(r.how, ['Loop /Loop: 4 iterations']);
    assert.equal(r.inlined.graph.nodes.filter((n) => n.opType === 'MatMul').length, 4);
    assert.ok(r.inlined.graph.initializers.has('Wb'), 'one shared copy of the body weight');
  });

  it('unrolls a Scan with a reversed input and a reversed output on axis 1', async () => {
    const body = graphOf('body', [
      node('Mul', ['x_t', 'w'], ['xw']),
      node('Add', ['s_in', 'xw'], ['pre']),
      node('Tanh', ['pre'], ['s_out']),
      node('Sigmoid', ['s_out'], ['y_t']),
    ], [tensorInfo('s_in', DataType.DOUBLE, [3]), tensorInfo('x_t', DataType.DOUBLE, [3])], ['s_out', 'y_t'], [doubles('w', [3])]);
    const attrs: Attribute[] = [
      { name: 'body', type: 'graph', value: body }, { name: 'num_scan_inputs', type: 'int', value: 1 },
      { name: 'scan_input_directions', type: 'ints', value: [1] }, { name: 'scan_output_axes', type: 'ints', value: [1] }, { name: 'scan_output_directions', type: 'ints', value: [1] },
    ];
    const model = modelOf(graphOf('main', [
      node('Scan', ['s0', 'seq'], ['s_last', 'ys'], attrs, '/Scan'),
      node('ReduceSum', ['ys', 'ax1'], ['y_sum'], [{ name: 'keepdims', type: 'int', value: 0 }]),
      node('Add', ['s_last', 'y_sum'], ['y']),
    ], [tensorInfo('s0', DataType.DOUBLE, [3]), tensorInfo('seq', DataType.DOUBLE, [5, 3])], ['y'], [int64('ax1', [1])]));
    const r = await checkInlined(model, { s0: x([3]), seq: x([5, 3]) }, 'seq');
    assert.deepEqual(r.how, ['Scan /Scan: 5 steps']);
  });

  it('leaves a Loop whose iteration count the sample does not give, and says why', async () => {
    const body = graphOf('body', [
      node('Tanh', ['h_in'], ['h_out']),
      node('ReduceSum', ['h_out'], ['total'], [{ name: 'keepdims', type: 'int', value: 0 }]),
      node('Greater', ['total', 'zero'], ['cond_out']),
    ], [tensorInfo('i', DataType.INT64, []), tensorInfo('cond_in', DataType.BOOL, []), tensorInfo('h_in', DataType.DOUBLE, [3])], ['cond_out', 'h_out'], [{ ...doubles('zero', []), raw: new Uint8Array(8) }]);
    const model = modelOf(graphOf('main', [node('Loop', ['', 'go', 'x'], ['y'], [{ name: 'body', type: 'graph', value: body }], '/While')],
      [tensorInfo('x', DataType.DOUBLE, [3]), tensorInfo('go', DataType.BOOL, [])], ['y']));
    const sample = { x: { dtype: 'float64', dims: [3], data: Float64Array.of(-1, -2, -3) } as NdArray, go: { dtype: 'bool', dims: [], data: Uint8Array.of(1) } as NdArray };
    const forward = await ForwardPass.run(model, sample, createOrtRunner, 'cpu');
    const r = inlineControlFlow(model, forward);
    assert.equal(r.changed, false);
    assert.equal(r.model, model);
    assert.match(r.report[0].how, /number of iterations at the sample is not known/);
  });

  it('refuses to unroll a Loop of 2^40 iterations, even of an empty body', () => {
    const body = graphOf('body', [], [tensorInfo('i', DataType.INT64, []), tensorInfo('cond_in', DataType.BOOL, []), tensorInfo('h_in', DataType.DOUBLE, [3])], ['cond_in', 'h_in']);
    const model = modelOf(graphOf('main', [node('Loop', ['M', '', 'x'], ['y'], [{ name: 'body', type: 'graph', value: body }], '/Endless')],
      [tensorInfo('x', DataType.DOUBLE, [3])], ['y'], [int64('M', [2 ** 40], [])]));
    const r = inlineControlFlow(model, { value: (t) => (t === 'M' ? Float64Array.of(2 ** 40) : undefined), shape: () => undefined });
    assert.equal(r.changed, false);
    assert.match(r.report[0].how, /1099511627776 iterations of 0 nodes are too many to unroll/);
  });

  it('moves float Constant nodes holding more than one value into initializers, and leaves scalars', () => {
    const weight = doubles('ignored', [2, 2]);
    const model = modelOf(graphOf('main', [
      node('Constant', [], ['w'], [{ name: 'value', type: 'tensor', value: weight }]),
      node('Constant', [], ['eps'], [{ name: 'value', type: 'tensor', value: doubles('ignored', []) }]),
      node('MatMul', ['x', 'w'], ['xw']),
      node('Add', ['xw', 'eps'], ['y']),
    ], [tensorInfo('x', DataType.DOUBLE, [1, 2])], ['y']));
    const r = constantsToInitializers(model);
    assert.deepEqual(r.moved, ['w']);
    assert.equal(r.model.graph.initializers.get('w')?.name, 'w');
    assert.deepEqual(r.model.graph.nodes.map((n) => n.opType), ['Constant', 'MatMul', 'Add']);
    validateGraph(r.model.graph);
  });
});
