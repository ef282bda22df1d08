import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DoctorError } from '../../../src/core/errors';
import { decodeModel } from '../../../src/core/onnx/decode';
import { summarizeModel } from '../../../src/core/onnx/summary';
import { validateGraph } from '../../../src/core/onnx/validate';
import { malformed, model } from '../../helpers';

const load = (path: string) => decodeModel(readFileSync(path), path);

describe('validateGraph', () => {
  it('returns the file order for a topologically sorted export', () => {
    const m = load(model('resnet_small'));
    assert.deepEqual(validateGraph(m.graph), m.graph.nodes.map((_, i) => i));
  });

  it('sorts a graph whose nodes are stored out of order', () => {
    const m = load(model('mlp_sigmoid'));
    const n = m.graph.nodes.length;
    m.graph.nodes.reverse();
    const order = validateGraph(m.graph);
    assert.deepEqual(order, Array.from({ length: n }, (_, i) => n - 1 - i));
  });

  it('names the node that reads a missing initializer', () => {
    const path = malformed('missing_initializer.onnx');
    assert.throws(() => validateGraph(load(path).graph, path), (e: unknown) => {
      assert.ok(e instanceof DoctorError && e.kind === 'invalid-graph');
      assert.match(e.message, /node 'add' \(Add\) reads 'bias'/);
      return true;
    });
  });

  it('names the nodes of a cycle', () => {
    const path = malformed('cycle.onnx');
    assert.throws(() => validateGraph(load(path).graph, path), /cycle through node 'first' \(Add\), node 'second' \(Relu\)/);
  });

  it('refuses a tensor produced twice', () => {
    const m = load(model('mlp_sigmoid'));
    m.graph.nodes[1].outputs = [...m.graph.nodes[0].outputs];
    assert.throws(() => validateGraph(m.graph), /produced twice/);
  });
});

describe('summarizeModel', () => {
  it('counts parameters, nodes and op types of the sigmoid MLP', () => {
    const s = summarizeModel(load(model('mlp_sigmoid')));
    assert.equal(s.parameterCount, 12 * (32 * 32 + 32));
    assert.equal(s.nodeCount, 24);
    assert.deepEqual(s.opHistogram, [{ opType: 'Gemm', count: 12 }, { opType: 'Sigmoid', count: 12 }]);
    assert.deepEqual(s.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 32] }]);
    assert.equal(s.opset, 17);
  });
});
