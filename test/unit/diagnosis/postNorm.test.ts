import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { graphFacts } from '../../../src/core/diagnosis/rule';
import { postNormBlocks, postNormGrowth } from '../../../src/core/diagnosis/rules/postNorm';
import { resolveThresholds } from '../../../src/core/diagnosis/thresholds';
import { analyze, byRule, load } from './helpers';

/** The rule's figure on a fixture, as the rule computes it from the analysis. */
async function growth(name: string) {
  const model = load(name);
  const report = await analyze(name);
  const blocks = postNormBlocks({ report, model, thresholds: resolveThresholds(), training: {}, facts: graphFacts(model) });
  return { report, blocks, growth: postNormGrowth(blocks) };
}

describe('post-norm-gradient-growth', () => {
  it('a deep post-norm encoder: 48 post-norm blocks of 2 kinds, the last block\'s gradient well above the mean; an error with the fixes for 24 layers', async () => {
    const { report, blocks, growth: g } = await growth('postnorm_deep');
    assert.equal(blocks.length, 48);
    assert.equal(g.length, 2, 'attention and feed-forward blocks, 24 of each');
    assert.ok(g.every((k) => k.kind.length === 24));
    const worst = Math.max(...g.map((k) => k.growth));
    const [f] = byRule(report, 'post-norm-gradient-growth');
    assert.ok(f, `fires (growth ${worst})`);
    assert.equal(f.severity, 'error');
    assert.equal(f.measured, worst);
    assert.equal(f.thresholdName, 'postNormGradientGrowthError');
    assert.match(f.layer!, /layers\.23\//);
    assert.match(f.fix!, /norm_first=True/);
    // DeepNorm for N = 24: alpha = 48^(1/4) = 2.63, beta = 192^(-1/4) = 0.269
    assert.match(f.fix!, /for 24 layers: LN\(2\.63 x \+ F\(x\)\).*gain 0\.269/);
    assert.equal(report.verdict?.status, 'pathological');
  });

  it('a pre-norm encoder has no post-norm block; a shallow post-norm encoder and the 2-layer fixture stay below the warning', async () => {
    const pre = await growth('prenorm_deep');
    assert.equal(pre.blocks.length, 0);
    assert.deepEqual(byRule(pre.report, 'post-norm-gradient-growth'), []);
    const shallow = await growth('postnorm_shallow');
    assert.equal(shallow.blocks.length, 8);
    assert.ok(shallow.growth.length === 2 && shallow.growth.every((k) => k.growth < resolveThresholds().postNormGradientGrowthWarning), JSON.stringify(shallow.growth.map((k) => k.growth)));
    assert.deepEqual(byRule(shallow.report, 'post-norm-gradient-growth'), []);
    // two layers: fewer than 3 blocks of a kind, no trend through depth to judge
    const two = await growth('transformer');
    assert.equal(two.blocks.length, 4);
    assert.deepEqual(two.growth, []);
    assert.deepEqual(byRule(two.report, 'post-norm-gradient-growth'), []);
  });

  it('post-norm blocks whose weights the exporter folded into shared initializers: not measured, said as info with the export that keeps them', async () => {
    const { report, blocks, growth: g } = await growth('postnorm_shared');
    assert.equal(blocks.length, 8);
    assert.deepEqual(g, []);
    const [f] = byRule(report, 'post-norm-gradient-growth');
    assert.equal(f?.severity, 'info');
    assert.match(f.message, /share their weights/);
    assert.match(f.fix!, /TrainingMode\.TRAINING/);
    // the same blocks with their own weights are measured
    assert.equal((await growth('postnorm_shallow')).growth.length, 2);
  });
});
