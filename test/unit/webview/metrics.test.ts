import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { heatmapCells, METRICS, scalePosition } from '../../../webview/src/report/metrics';
import { analyzeFile } from '../../../src/runtime/engine';
import { model } from '../../helpers';

describe('the heatmap\'s scales and flags', () => {
  it('places gains on a log scale diverging around 1, conditions and fractions from healthy to bad', () => {
    assert.equal(scalePosition('gain', 1, null), 0);
    assert.equal(scalePosition('gain', 10, null), 0.5);
    assert.equal(scalePosition('gain', 0.1, null), -0.5);
    assert.equal(scalePosition('gain', 1e6, null), 1, 'saturates');
    assert.equal(scalePosition('gain', 0, null), -1, 'a zero gain is fully contracting');
    assert.equal(scalePosition('relative', 5, 5), 0, 'relative to the median');
    assert.equal(scalePosition('condition', 1, null), 0);
    assert.equal(scalePosition('condition', 1e3, null), 0.5);
    assert.equal(scalePosition('fraction', 0.25, null), 0.25);
    assert.equal(scalePosition('gain', null, null), null);
  });

  it('flags the cells of the findings\' rules on the findings\' layers', async () => {
    const r = await analyzeFile(model('mlp_tanh_overscaled'), { executionProvider: 'cpu', curvatureIterations: 0 });
    const cells = heatmapCells(r);
    assert.equal(cells.length, r.layers.length * METRICS.length);
    const sigmaMax = METRICS.findIndex((m) => m.key === 'sigmaMax');
    const flagged = cells.filter((c) => c.metric === sigmaMax && c.flagged.some((f) => f.rule === 'exploding-layer'));
    assert.equal(flagged.length, r.findings.filter((f) => f.rule === 'exploding-layer').length);
    for (const c of cells.filter((x) => x.metric === sigmaMax)) assert.ok(c.t! > 0, 'every over-scaled tanh layer expands: orange');
  });
});
