import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnose } from '../../../src/core/diagnosis/diagnose';
import { analyze, load } from './helpers';

describe('incomplete-analysis', () => {
  it('says a healthy verdict covers only what was measured when the gradient flow could not be computed', async () => {
    const report = await analyze('mlp_relu_he');
    assert.equal(report.verdict?.status, 'healthy');
    assert.ok(!report.findings.some((f) => f.rule === 'incomplete-analysis'), 'nothing missing on a full analysis');
    // the same figures with the gradient flow failed, as it fails through an operator without a rule
    const reason = "no derivative for Foo node '/foo': no derivative rule for this operator";
    const cut = structuredClone(report);
    for (const l of cut.layers) l.gradient = { inputNorm: null, outputNorm: null, reason };
    const { findings, verdict } = diagnose(cut, load('mlp_relu_he'));
    const f = findings.find((x) => x.rule === 'incomplete-analysis');
    assert.ok(f, 'a finding says the gradient flow is missing');
    assert.equal(f.severity, 'info');
    assert.equal(f.measured, cut.layers.length);
    assert.ok(f.message.includes(reason));
    assert.equal(verdict.status, 'healthy');
    assert.match(verdict.headline, /^Healthy as far as measured: The gradient flow could not be computed/);
  });

  it('counts the layers that could not be probed', async () => {
    const cut = structuredClone(await analyze('mlp_relu_he'));
    cut.layers[1].jacobian = { ...cut.layers[1].jacobian, sigmaMax: null, sigmaMin: null, rmsGain: null, conditionNumber: null, method: 'failed', reason: 'onnxruntime failed' };
    const f = diagnose(cut, load('mlp_relu_he')).findings.find((x) => x.id === 'incomplete-analysis:layers');
    assert.equal(f?.measured, 1);
    assert.match(f?.message ?? '', /1 of \d+ layers could not be probed \(.*onnxruntime failed\)/);
  });
});
