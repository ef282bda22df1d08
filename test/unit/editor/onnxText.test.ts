import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeModel } from '../../../src/core/onnx/decode';
import { renderOnnxText } from '../../../src/core/report/onnxText';
import { model } from '../../helpers';

describe('the model as ONNX text', () => {
  it('has the header, the signature, the initializers and one line per node with its name', () => {
    const m = decodeModel(readFileSync(model('mlp_sigmoid')));
    const t = renderOnnxText(m);
    const lines = t.text.split('\n');
    assert.equal(lines[0], '<');
    assert.match(t.text, /opset_import: \["" : 17\]/);
    assert.match(lines[t.signatureLine], /^torch_jit \(float\[batch,32\] x\) => \(float\[batch,32\] y\)$/);
    assert.match(t.text, /<float\[32,32\] layers\.0\.weight,/);
    assert.equal(t.nodeLines.size, m.graph.nodes.length);
    const gemm = lines[t.nodeLines.get('/layers.0/Gemm')!];
    assert.equal(gemm.trim(), '/layers.0/Gemm_output_0 = Gemm <alpha: float = 1, beta: float = 1, transB: int = 1> (x, layers.0.weight, layers.0.bias)   # /layers.0/Gemm');
  });

  it('opens each layer with a comment when given the analysis\'s layers, keeping node lines right', () => {
    const m = decodeModel(readFileSync(model('mlp_sigmoid')));
    const t = renderOnnxText(m, [{ index: 0, name: '/layers.0/Gemm', opTypes: ['Gemm', 'Sigmoid'], nodes: ['/layers.0/Gemm', '/Sigmoid'] }]);
    const lines = t.text.split('\n');
    const at = t.nodeLines.get('/layers.0/Gemm')!;
    assert.equal(lines[at - 1].trim(), '# layer 1: /layers.0/Gemm (Gemm + Sigmoid)');
    assert.match(lines[t.nodeLines.get('/Sigmoid')!], /= Sigmoid \(\/layers\.0\/Gemm_output_0\)/);
  });
});

