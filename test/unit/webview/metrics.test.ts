import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memberFindings } from '../../../src/core/diagnosis/group';
import type { AnalysisReport } from '../../../src/core/report/types';
import { findingsOf, heatmapCells, METRICS, scalePosition } from '../../../webview/src/report/metrics';
import { analyzeFile } from '../../../src/runtime/engine';
import { model } from '../../helpers';

describe('the heatmap\'s scales and flags', () => {
  it('places gains on a log scale diverging around 1, conditions and fractions from healthy to bad', () => {
    assert.equal(scalePosition('gain', 1, null), 0);
    assert.equal(scalePosition('gain', 10, null), 0.5);
    assert.equal(scalePosition('gain', 0.1, null), -0.5);
    assert.equal(scalePosition('gain', 1e6, null), 1, 'saturates');
    assert.equal(scalePosition('gain', 0, null), -1, 'a zero gain is fully contracting');
    assert.equal(scalePosition('output', 5, 1), 0, 'within 10x of the output reference: healthy');
    assert.equal(scalePosition('output', 0.1, 1), 0, 'the band includes 10x below');
    assert.equal(scalePosition('output', 1e-4, 1), -1, '10^4 below the output: fully blue');
    assert.ok(Math.abs(scalePosition('output', 1e-2, 1)! + 1 / 3) < 1e-12, 'one decade beyond the band');
    assert.equal(scalePosition('output', 1e3, 1)!.toFixed(3), (2 / 3).toFixed(3));
    assert.equal(scalePosition('output', 1, null), null, 'no reference, no colour');
    assert.equal(scalePosition('condition', 1, null), 0);
    assert.equal(scalePosition('condition', 1e3, null), 0.5);
    assert.equal(scalePosition('fraction', 0.25, null), 0.25);
    assert.equal(scalePosition('gain', null, null), null);
  });

  let analysis: Promise<AnalysisReport> | undefined;
  const overscaled = () => (analysis ??= analyzeFile(model('mlp_tanh_overscaled'), { executionProvider: 'cpu', curvatureIterations: 0 }));
  const sigmaMax = METRICS.findIndex((m) => m.key === 'sigmaMax');

  it('flags the cells of the findings\' rules on the findings\' layers, each member of a group on its own', async () => {
    const r = await overscaled();
    const cells = heatmapCells(r);
    assert.equal(cells.length, r.layers.length * METRICS.length);
    const flagged = cells.filter((c) => c.metric === sigmaMax && c.flagged.some((f) => f.rule === 'exploding-layer'));
    assert.equal(flagged.length, r.findings.filter((f) => f.rule === 'exploding-layer').flatMap(memberFindings).length);
    for (const c of cells.filter((x) => x.metric === sigmaMax)) assert.ok(c.t! > 0, 'every over-scaled tanh layer expands: orange');
  });

  it('flags every layer of a group whose layers are not one stretch, with the member on it', async () => {
    const r = structuredClone(await overscaled());
    const group = r.findings.find((f) => f.rule === 'exploding-layer' && f.members)!;
    assert.ok(group.members!.length >= 6, `the over-scaled tanh layers explode as one group: ${group.members?.length}`);
    // layers 1, 3 and 6 of the stack: three members, no range
    const kept = [0, 2, 5].map((i) => group.members![i]);
    r.findings = r.findings.map((f) => (f === group ? { ...f, members: kept, range: undefined } : f));
    const cells = heatmapCells(r).filter((c) => c.metric === sigmaMax);
    const flags = cells.map((c) => c.flagged.filter((f) => f.rule === 'exploding-layer').map((f) => f.id));
    assert.deepEqual(flags, r.layers.map((l) => kept.filter((m) => m.layer === l.name).map((m) => m.id)));
    assert.deepEqual(flags.flatMap((ids, i) => (ids.length ? [i] : [])), kept.map((m) => r.layers.findIndex((l) => l.name === m.layer)));
    // the layer's detail lists the member on it, with its own message and figure
    const third = r.layers.find((l) => l.name === kept[2].layer)!;
    const [member] = findingsOf(r, third).filter((f) => f.rule === 'exploding-layer');
    assert.equal(member.id, kept[2].id);
    assert.equal(member.message, kept[2].message);
    assert.equal(member.measured, kept[2].measured);
    assert.equal(member.members, undefined);
    const second = r.layers.find((l) => l.name === group.members![1].layer)!;
    assert.deepEqual(findingsOf(r, second).filter((f) => f.rule === 'exploding-layer'), [], 'a layer left out of the group has none');
  });
});
