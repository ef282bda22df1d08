import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unrollRecurrent } from '../../../src/core/autodiff/unroll';
import { Rng } from '../../../src/core/inputs/rng';
import { float32Tensor } from '../../../src/core/onnx/tensorData';
import { DataType, type Attribute, type Model } from '../../../src/core/onnx/types';
import { validateGraph } from '../../../src/core/onnx/validate';
import { createOrtRunner } from '../../../src/runtime/ort';
import { expectClose } from '../../helpers';

const SEQ = 5;
const BATCH = 2;
const IN = 3;
const H = 4;

function recurrentModel(op: 'LSTM' | 'GRU' | 'RNN', attrs: Attribute[], withInitial: boolean): Model {
  const rng = new Rng(op.length + attrs.length);
  const gates = op === 'LSTM' ? 4 : op === 'GRU' ? 3 : 1;
  const dirAttr = attrs.find((a) => a.name === 'direction');
  const D = dirAttr?.type === 'string' && dirAttr.value === 'bidirectional' ? 2 : 1;
  const rand = (n: number) => Array.from({ length: n }, () => rng.normal() * 0.5);
  const inits = new Map([
    ['W', float32Tensor('W', [D, gates * H, IN], rand(D * gates * H * IN))],
    ['R', float32Tensor('R', [D, gates * H, H], rand(D * gates * H * H))],
    ['B', float32Tensor('B', [D, 2 * gates * H], rand(D * 2 * gates * H))],
  ]);
  if (withInitial) {
    inits.set('h0', float32Tensor('h0', [D, BATCH, H], rand(D * BATCH * H)));
    if (op === 'LSTM') inits.set('c0', float32Tensor('c0', [D, BATCH, H], rand(D * BATCH * H)));
  }
  const inputs = ['X', 'W', 'R', 'B', '', withInitial ? 'h0' : '', withInitial && op === 'LSTM' ? 'c0' : ''];
  const outputs = op === 'LSTM' ? ['Y', 'Yh', 'Yc'] : ['Y', 'Yh'];
  return {
    irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 't', producerVersion: '', domain: '', modelVersion: 0, docString: '', metadata: {}, passthrough: {},
    graph: {
      name: 'rnn', initializers: inits, valueInfo: [], metadata: {}, passthrough: {},
      nodes: [{ name: 'rec', opType: op, domain: '', inputs: inputs.slice(0, op === 'LSTM' ? 7 : 6), outputs, attributes: [{ name: 'hidden_size', type: 'int', value: H }, ...attrs], metadata: {} }],
      inputs: [{ name: 'X', type: { kind: 'tensor', elemType: DataType.FLOAT, shape: [SEQ, BATCH, IN] } }],
      outputs: outputs.map((name) => ({ name })),
    },
  };
}

describe('unrollRecurrent', () => {
  const cases: Array<[string, 'LSTM' | 'GRU' | 'RNN', Attribute[], boolean]> = [
    ['LSTM', 'LSTM', [], false],
    ['LSTM with initial states', 'LSTM', [], true],
    ['GRU', 'GRU', [], false],
    ['GRU with linear_before_reset and an initial state', 'GRU', [{ name: 'linear_before_reset', type: 'int', value: 1 }], true],
    ['RNN', 'RNN', [], true],
    ['bidirectional LSTM with initial states', 'LSTM', [{ name: 'direction', type: 'string', value: 'bidirectional' }], true],
    ['reverse GRU', 'GRU', [{ name: 'direction', type: 'string', value: 'reverse' }], false],
    ['bidirectional RNN', 'RNN', [{ name: 'direction', type: 'string', value: 'bidirectional' }], false],
  ];
  for (const [title, op, attrs, initial] of cases) {
    it(`computes the same outputs as onnxruntime's own ${title}`, async () => {
      const model = recurrentModel(op, attrs, initial);
      const x = { X: { dtype: 'float32' as const, dims: [SEQ, BATCH, IN], data: Float32Array.from({ length: SEQ * BATCH * IN }, (_, i) => Math.sin(i)) } };
      const native = await (await createOrtRunner(model, { executionProvider: 'cpu' })).run(x);
      const unrolled = unrollRecurrent(model, (t) => (t === 'X' ? [SEQ, BATCH, IN] : model.graph.initializers.get(t)?.dims));
      validateGraph(unrolled.model.graph);
      const dirAttr = attrs.find((a) => a.name === 'direction');
      assert.equal(unrolled.steps[0].hidden.length, SEQ * (dirAttr?.type === 'string' && dirAttr.value === 'bidirectional' ? 2 : 1));
      const mine = await (await createOrtRunner(unrolled.model, { executionProvider: 'cpu' })).run(x);
      for (const name of Object.keys(native)) {
        assert.deepEqual(mine[name].dims, native[name].dims, name);
        expectClose(mine[name].data as Float32Array, native[name].data as Float32Array, 1e-5, 1e-6, name);
      }
    });
  }

  it('refuses peephole weights with a clear reason', () => {
    const model = recurrentModel('LSTM', [], false);
    model.graph.initializers.set('P', float32Tensor('P', [1, 3 * H], new Array(3 * H).fill(0.1)));
    model.graph.nodes[0].inputs = [...model.graph.nodes[0].inputs, 'P'];
    assert.throws(() => unrollRecurrent(model, () => [SEQ, BATCH, IN]), /cannot unroll LSTM node 'rec': peephole weights/);
  });
});
