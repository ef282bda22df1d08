import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnose } from '../../../src/core/diagnosis/diagnose';
import { memberFindings } from '../../../src/core/diagnosis/group';
import { analyze, load } from './helpers';

describe('layer gains in a model that normalises its activations', () => {
  it('are information, not warnings: the gradient flow judges the whole (the training table\'s BatchNorm networks train with such layers)', async () => {
    const plain = await analyze('mlp_tanh_overscaled');
    const exploding = plain.findings.flatMap(memberFindings).filter((f) => f.rule === 'exploding-layer');
    assert.ok(exploding.length > 0 && exploding.every((f) => f.severity === 'warning'), 'a plain stack: warnings');
    assert.ok(plain.findings.some((f) => f.rule === 'end-to-end-explosion' && f.severity === 'warning'));
    // the same figures, as if its BatchNorm had been folded by the exporter and re-inserted at batch statistics
    const normalised = structuredClone(plain);
    normalised.run.batchNorm = { requested: 'auto', mode: 'batch', reason: 'folded at init', defaultStatistics: [], trainedStatistics: [], folded: [], dropout: [], batchSize: 16 };
    const { findings } = diagnose(normalised, load('mlp_tanh_overscaled'));
    const layerFindings = findings.flatMap(memberFindings).filter((f) => f.rule === 'exploding-layer');
    assert.equal(layerFindings.length, exploding.length);
    for (const f of layerFindings) {
      assert.equal(f.severity, 'info');
      assert.match(f.message, /normalises its activations, so this gain does not compound through depth/);
    }
    assert.equal(findings.find((f) => f.rule === 'end-to-end-explosion')?.severity, 'info');
    // the gradient flow still judges: the over-scaled stack's exploding gradient stays
    assert.deepEqual(findings.filter((f) => f.rule === 'exploding-gradient').map((f) => f.severity), plain.findings.filter((f) => f.rule === 'exploding-gradient').map((f) => f.severity));
  });
});
