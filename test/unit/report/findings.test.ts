import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatFigure } from '../../../src/core/report/figures';
import { formatFindings, formatReportTable } from '../../../src/core/report/table';
import { analyze } from '../diagnosis/helpers';

describe('the findings in the terminal table', () => {
  it('shows the sigmoid MLP\'s contracting layers as one finding with its 12 layers and their figures', async () => {
    const r = await analyze('mlp_sigmoid');
    const group = r.findings.find((f) => f.rule === 'contracting-layer')!;
    const lines = formatFindings(r);
    assert.equal(lines.filter((l) => l.includes('[contracting-layer]')).length, 1, 'one finding, not 12');
    assert.ok(lines.includes(`▲ warning  ${group.message}`));
    assert.ok(!lines.some((l) => /… and \d+ more/.test(l)), 'nothing left out');
    const start = lines.findIndex((l) => l.trim() === 'layers:' || l.trim().startsWith('layers: '));
    assert.ok(start > 0, lines.join('\n'));
    const end = lines.findIndex((l, i) => i > start && !l.startsWith(' '.repeat(15)));
    const block = lines.slice(start, end < 0 ? undefined : end);
    const listed = block.join(' ').replace(/^\s*layers:/, '');
    for (const m of group.members!) assert.ok(listed.includes(`${m.layer} ${formatFigure({ value: m.measured!, kind: m.measuredKind! })}`), `${m.layer} in ${listed}`);
    assert.ok(block.length > 1 && block.every((l) => l.length <= 120), 'the list wraps');
  });

  it('leads with a one-sentence verdict and counts the groups as findings', async () => {
    const r = await analyze('mlp_sigmoid');
    const table = formatReportTable(r).split('\n');
    assert.equal(table[0], r.verdict!.headline);
    assert.match(table[0], /^Pathological: Vanishing gradient: .*\/layers\.11\/Gemm\.$/);
    assert.ok(table.includes(`Findings   1 error, ${r.verdict!.counts.warning} warnings, ${r.verdict!.counts.info} info`));
    assert.equal(r.verdict!.counts.warning, r.findings.filter((f) => f.severity === 'warning').length);
  });
});
