import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Rng } from '../../../src/core/inputs/rng';
import { encodeModel } from '../../../src/core/onnx/encode';
import { float32Tensor } from '../../../src/core/onnx/tensorData';
import { DataType, type Graph, type Model, type Node } from '../../../src/core/onnx/types';
import { analyzeFile } from '../../../src/runtime/engine';

const rng = new Rng(5);
const node = (opType: string, inputs: string[], outputs: string[], name = outputs[0], attributes: Node['attributes'] = []): Node => ({ name, opType, domain: '', inputs, outputs, attributes, metadata: {} });
const graphOf = (name: string, nodes: Node[], outputs: string[], initializers: Graph['initializers'] = new Map()): Graph => ({
  name, nodes, inputs: [], outputs: outputs.map((o) => ({ name: o })), initializers, valueInfo: [], metadata: {}, passthrough: {},
});
const weight = (name: string, dims: number[]) => float32Tensor(name, dims, Array.from({ length: dims[0] * dims[1] }, () => rng.normal() * 0.5));

/**
 * A model whose only layers sit inside an If (as some voice-activity models are exported): the
 * condition holds at any sample, the then branch is Sigmoid(x W1) W2, the else branch x.
 */
function layersInsideAnIf(): string {
  const thenBranch = graphOf('then', [
    node('MatMul', ['x', 'W1'], ['h'], '/branch/fc1/MatMul'), node('Sigmoid', ['h'], ['a'], '/branch/Sigmoid'), node('MatMul', ['a', 'W2'], ['t_out'], '/branch/fc2/MatMul'),
  ], ['t_out'], new Map([['W1', weight('W1', [8, 8])], ['W2', weight('W2', [8, 4])]]));
  const elseBranch = graphOf('else', [node('Slice', ['x', 'starts', 'ends', 'axes'], ['e_out'])], ['e_out']);
  const int64 = (name: string, v: number) => ({ name, dataType: DataType.INT64, dims: [1], raw: new Uint8Array(BigInt64Array.of(BigInt(v)).buffer) });
  const main: Graph = {
    ...graphOf('main', [
      node('ReduceSumSquare', ['x'], ['sq'], '/ReduceSumSquare', [{ name: 'keepdims', type: 'int', value: 0 }]),
      node('Greater', ['sq', 'minus_one'], ['cond']),
      node('If', ['cond'], ['y'], '/If', [{ name: 'then_branch', type: 'graph', value: thenBranch }, { name: 'else_branch', type: 'graph', value: elseBranch }]),
    ], ['y'], new Map([['minus_one', float32Tensor('minus_one', [], [-1])], ['starts', int64('starts', 0)], ['ends', int64('ends', 4)], ['axes', int64('axes', 1)]])),
    inputs: [{ name: 'x', type: { kind: 'tensor', elemType: DataType.FLOAT, shape: [1, 8] } }],
    outputs: [{ name: 'y', type: { kind: 'tensor', elemType: DataType.FLOAT, shape: [1, 4] } }],
  };
  const model: Model = { irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 'flatten test', producerVersion: '', domain: '', modelVersion: 0, docString: '', metadata: {}, passthrough: {}, graph: main };
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'gd-if-')), 'if.onnx');
  writeFileSync(file, encodeModel(model).bytes);
  return file;
}

describe('control flow in the analysis', () => {
  it('analyses the layers inside the If branch taken at the sample, counts their weights, and says which branch', async () => {
    const r = await analyzeFile(layersInsideAnIf(), { executionProvider: 'cpu', curvatureIterations: 4 });
    assert.deepEqual(r.run.controlFlow, [{ node: '/If', opType: 'If', how: 'then branch', inlined: true }]);
    assert.deepEqual(r.layers.map((l) => l.name), ['/branch/fc1/MatMul', '/branch/fc2/MatMul']);
    assert.equal(r.model.parameterCount, 8 * 8 + 8 * 4 + 1); // the branch weights, and the scalar the condition compares with
    for (const p of ['W1', 'W2']) assert.ok((r.parameters.find((q) => q.name === p)?.gradNorm ?? 0) > 0, `a gradient reaches ${p}`);
    assert.ok((r.layers[0].gradient.inputNorm ?? 0) > 0, 'the gradient flows through the branch, no made-up zero');
    assert.ok((r.curvature.hessianMaxEigenvalue ?? 0) > 0, `curvature: ${r.curvature.reason}`);
  });
});
