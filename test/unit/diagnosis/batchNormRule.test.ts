import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyze, load } from './helpers';

describe('batchnorm-semantics: one finding per thing found, each on its node', () => {
  it('folded (with the PRESERVE export), default statistics, and Dropout', async () => {
    const folded = (await analyze('cnn_bn_eval')).findings.filter((f) => f.rule === 'batchnorm-semantics');
    assert.deepEqual(folded.map((f) => [f.id, f.severity, f.node, f.layer]), [['batchnorm-semantics:folded', 'info', '/conv1/Conv', '/conv1/Conv']]);
    assert.match(folded[0].fix ?? '', /^Export with the normalisation kept: torch\.onnx\.export\(model\.eval\(\), \.\.\., training=torch\.onnx\.TrainingMode\.PRESERVE\)\.$/);
    const kept = (await analyze('cnn_bn_preserve')).findings.filter((f) => f.rule === 'batchnorm-semantics');
    assert.deepEqual(kept.map((f) => [f.id, f.node, f.fix]), [['batchnorm-semantics:defaults', '/bn1/BatchNormalization', undefined]]);
    assert.match(kept[0].message, /^2 BatchNorm nodes have running statistics at their defaults \(mean 0, variance 1\): the model was exported at initialisation; analysed with the statistics of a batch of 16 samples, frozen for the Jacobians\.$/);
    // a Dropout after the first ReLU of the ReLU MLP
    const m = load('mlp_relu_he');
    const i = m.graph.nodes.findIndex((n) => n.name === '/Relu');
    const y = m.graph.nodes[i].outputs[0];
    for (const n of m.graph.nodes.slice(i + 1)) n.inputs = n.inputs.map((x) => (x === y ? 'dropped' : x));
    m.graph.nodes.splice(i + 1, 0, { name: '/dropout/Dropout', opType: 'Dropout', domain: '', inputs: [y], outputs: ['dropped'], attributes: [], metadata: {} });
    const dropout = (await analyze(m)).findings.filter((f) => f.rule === 'batchnorm-semantics');
    assert.deepEqual(dropout.map((f) => [f.id, f.severity, f.node, f.fix]), [['batchnorm-semantics:dropout', 'info', '/dropout/Dropout', undefined]]);
    assert.match(dropout[0].why, /Dropout's mask is random per step/);
  });
});
