import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstSentence } from '../../../src/core/diagnosis/group';
import { pastThreshold, topFinding } from '../../../src/core/diagnosis/rank';
import type { Finding } from '../../../src/core/report/types';
import { doThisFirst, listedOrder } from '../../../webview/src/report/first';
import { analyze } from './helpers';

const RANK = { error: 0, warning: 1, info: 2 } as const;

describe('what matters most: one ranking for the verdict and the "Do this first" box', () => {
  for (const name of ['mlp_sigmoid', 'mlp_tanh_overscaled', 'resnet_small', 'transformer', 'lstm', 'numeric_hazards', 'cnn_bn_eval', 'mlp_zero_head']) {
    it(`${name}: the verdict's top finding is the box's, and the headline names it`, async () => {
      const r = await analyze(name);
      const top = topFinding(r.findings);
      // the oracle, written apart: the most severe, then the first in the report
      const oracle = r.findings.filter((f) => f.severity !== 'info').map((f, i) => ({ f, i }))
        .sort((a, b) => RANK[a.f.severity] - RANK[b.f.severity] || a.i - b.i)[0]?.f;
      assert.equal(top, oracle);
      assert.equal(r.verdict?.top, top?.id);
      const first = doThisFirst(r);
      assert.equal(first?.finding.id, r.verdict?.top, `the box shows ${first?.finding.rule}, the verdict names ${top?.rule}`);
      if (top) {
        assert.ok(r.verdict!.headline.includes(firstSentence(top.message)), `${r.verdict!.headline} names ${top.rule}`);
        assert.equal(listedOrder(r)[first!.number - 1], top, 'the box cites the top finding by its number in the list');
      } else assert.equal(r.verdict?.status, 'healthy');
    });
  }

  it('the over-scaled tanh MLP: its explosion, not its conditioning further past its own threshold', async () => {
    const r = await analyze('mlp_tanh_overscaled');
    const [explosion, conditioning] = ['end-to-end-explosion', 'ill-conditioned-layer'].map((rule) => r.findings.find((f) => f.rule === rule)!);
    assert.ok(pastThreshold(conditioning)! > pastThreshold(explosion)!, 'decades past a threshold would pick the conditioning');
    assert.equal(r.verdict?.top, explosion.id);
    assert.equal(doThisFirst(r)?.finding, explosion);
    assert.equal(doThisFirst(r)?.number, 1);
  });

  it('ranks by severity first, then by the report\'s order, whatever the order the findings come in', () => {
    const f = (id: string, severity: Finding['severity']): Finding => ({ id, rule: id, severity, message: `${id}.`, why: '' });
    assert.equal(topFinding([f('a', 'info'), f('b', 'warning'), f('c', 'error'), f('d', 'error')])?.id, 'c');
    assert.equal(topFinding([f('a', 'warning'), f('b', 'warning')])?.id, 'a');
    assert.equal(topFinding([f('a', 'info')]), undefined);
  });
});
