import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { absentFrom, countText, findingLayers, groupFindings, measuredRange, memberFindings, placeText, sentences } from '../../../src/core/diagnosis/group';
import { remediesOf } from '../../../src/core/diagnosis/remedies';
import type { DiagnosisContext, Rule } from '../../../src/core/diagnosis/rule';
import type { Finding, FigureKind, LayerReport } from '../../../src/core/report/types';
import { analyze, byRule } from './helpers';

const layers = ['a', 'b', 'c', 'd', 'e'].map((name, index) => ({ name, index }) as LayerReport);
const ctx = { report: { layers } } as unknown as DiagnosisContext;
const rule: Rule = { id: 'r', title: 'a test rule', check: () => [], group: { title: 'Things', summary: (ms) => `${countText(ms)} do it, ${measuredRange(ms)} each` } };
const plain: Rule = { id: 'plain', title: 'a rule without a group spec', check: () => [] };

function finding(layer: string, measured: number, kind: FigureKind = 'exact', extra: Partial<Finding> = {}): Finding {
  return {
    id: `r:${layer}`,
    rule: 'r',
    severity: 'warning',
    layer,
    message: `Thing: ${layer} does it by ${measured}. Same cause.`,
    measured,
    measuredKind: kind,
    threshold: 10,
    why: 'Because.',
    fix: `Fix ${layer}.`,
    remedies: [{ kind: 'rescale', parameter: `${layer}.w`, factor: 2 }],
    ...extra,
  };
}

describe('grouped findings', () => {
  it('a rule\'s findings of one severity on several layers become one finding listing them, its figures\' range printed with their kinds', () => {
    const found = [finding('d', 60, 'lower-bound'), finding('a', 53, 'lower-bound'), finding('c', 120)];
    const [g, ...rest] = groupFindings(found, [rule], ctx);
    assert.deepEqual(rest, []);
    assert.equal(g.id, 'r:a..d', 'first and last member, in depth order');
    assert.deepEqual(g.members!.map((m) => m.id), ['r:a', 'r:c', 'r:d']);
    assert.equal(g.message, 'Things: 3 layers do it, ≥ 53.0 to 120 each (layers 1, 3-4). Same cause.');
    assert.equal(g.range, undefined, 'not one unbroken stretch');
    assert.equal(g.layer, 'a', 'navigation goes to the first member');
    assert.equal(g.measured, 120, 'the worst member\'s figure');
    assert.equal(g.measuredKind, 'exact');
    assert.equal(g.fix, 'Fix a. Fix c. Fix d.', 'without a group fix: the members\' own');
    assert.deepEqual(g.remedies?.map((r) => (r as { parameter: string }).parameter), ['a.w', 'c.w', 'd.w'], 'the union of the members\' remedies');
    assert.deepEqual(findingLayers(g), ['a', 'c', 'd']);
  });

  it('an unbroken stretch has a range and names its ends; the members come back as the findings they were', () => {
    const found = [finding('b', 0.1), finding('c', 0.2)];
    const [g] = groupFindings(found, [rule], ctx);
    assert.deepEqual(g.range, ['b', 'c']);
    assert.equal(g.message, 'Things: 2 layers do it, 0.100 to 0.200 each (layers 2-3: b .. c). Same cause.');
    assert.equal(g.members![0].why, undefined, 'why only where it differs from the group\'s');
    assert.deepEqual(memberFindings(g), found);
    assert.deepEqual(memberFindings(found[0]), [found[0]]);
  });

  it('leaves alone a single finding, other severities, findings about a stretch already, and rules without a group spec', () => {
    const single = finding('a', 20);
    const error = finding('b', 30, 'exact', { severity: 'error' });
    const ranged = finding('c', 40, 'exact', { id: 'r:c-e', range: ['c', 'e'] });
    const other = [finding('d', 50, 'exact', { id: 'plain:d', rule: 'plain' }), finding('e', 60, 'exact', { id: 'plain:e', rule: 'plain' })];
    const all = [error, single, ranged, ...other];
    assert.deepEqual(groupFindings(all, [rule, plain], ctx), all);
  });

  it('puts the group where its first member was in the ranked list', () => {
    const [x, y] = [finding('a', 20, 'exact', { id: 'plain:a', rule: 'plain' }), finding('e', 60, 'exact', { id: 'plain:e', rule: 'plain', severity: 'info' })];
    const out = groupFindings([x, finding('d', 30), finding('b', 40), y], [rule, plain], ctx);
    assert.deepEqual(out.map((f) => f.id), ['plain:a', 'r:b..d', 'plain:e']);
  });

  it('a figure a member lacks (an infinite condition number) is the worst and ends the range', () => {
    const inf = finding('c', 0, 'lower-bound', { measured: undefined, measuredKind: 'lower-bound' });
    assert.equal(measuredRange([finding('a', 2e4), inf], (x) => x, { missing: '∞' }), '2.00e+4 to ∞');
    const [g] = groupFindings([finding('a', 2e4), inf], [rule], ctx);
    assert.equal(g.measured, undefined);
  });

  it('names members that are not on layers by node, and counts them', () => {
    const onNodes = [{ node: '/x' }, { node: '/y' }, { node: '/z' }, { node: '/w' }];
    assert.equal(placeText(layers, onNodes), '/x, /y, /z and 1 more');
    assert.equal(placeText(layers, [{ layer: 'e' }, { layer: 'e' }]), 'layer 5: e');
    assert.equal(placeText(layers, [{ layer: 'a' }, { layer: 'b' }, { layer: 'c' }], true), 'layers 1-3');
  });

  it('compares location by location: a group partly gone gives the members gone, a group wholly gone itself', () => {
    const [g] = groupFindings([finding('a', 20), finding('b', 30), finding('c', 40)], [rule], ctx);
    const [partly] = groupFindings([finding('b', 30), finding('c', 40)], [rule], ctx);
    const id = (f: Finding) => f.id;
    assert.deepEqual(absentFrom([g], id, [partly], id).map((f) => f.id), ['r:a']);
    assert.deepEqual(absentFrom([g], id, [], id), [g]);
    assert.deepEqual(absentFrom([partly], id, [g], id), []);
  });

  it('splits messages into sentences at a full stop before a capital, not inside figures, names or "e.g."', () => {
    assert.deepEqual(sentences('Contracting layer: /layers.0/Gemm shrinks signals to 0.139x (sigma_max 0.258). The sigmoid\'s slope is at most 0.25: it contracts.'), [
      'Contracting layer: /layers.0/Gemm shrinks signals to 0.139x (sigma_max 0.258).',
      'The sigmoid\'s slope is at most 0.25: it contracts.',
    ]);
    assert.equal(sentences('Fold it into the loss, e.g. BCEWithLogits. Then go on.').length, 2);
  });

  it('the 12-layer sigmoid MLP has one contracting-layer finding listing its 12 layers, not 12 nearly identical ones', async () => {
    const r = await analyze('mlp_sigmoid');
    const found = byRule(r, 'contracting-layer');
    assert.equal(found.length, 1);
    const [g] = found;
    assert.deepEqual(g.members?.map((m) => m.layer), r.layers.map((l) => l.name));
    assert.deepEqual(g.range, ['/layers.0/Gemm', '/layers.11/Gemm']);
    assert.match(g.message, /^Contracting layers: 12 layers contract signals, 0\.1\d\dx to 0\.1\d\dx each \(layers 1-12: \/layers\.0\/Gemm \.\. \/layers\.11\/Gemm\)\. The sigmoid's slope is at most 0\.25: it contracts whatever the weights\.$/);
    assert.equal(g.measured, Math.min(...g.members!.map((m) => m.measured!)), 'the most contracting layer');
    assert.deepEqual(g.members?.map((m) => m.id), r.layers.map((l) => `contracting-layer:${l.name}`), 'each member keeps the id it had alone');
    assert.match(g.fix!, /^Swap the Sigmoid of layers 1-11 for ReLU .* Keep the Sigmoid of \/layers\.11\/Gemm: it is the model's output activation/);
    for (const m of g.members!) assert.match(m.message, new RegExp(`^Contracting layer: ${m.layer!.replace(/[./]/g, '\\$&')} shrinks signals to 0\\.1\\d+x`));
    // one finding per rule and severity; 1 error and at most a handful of warnings instead of 15
    assert.equal(new Set(r.findings.map((f) => `${f.rule}|${f.severity}`)).size, r.findings.length);
    assert.equal(r.verdict?.counts.error, 1);
    assert.ok(r.verdict!.counts.warning <= 5, `${r.verdict!.counts.warning} warnings`);
  });

  it('the what-if of a group applies every member\'s remedy; of a member, that layer\'s alone', async () => {
    const r = await analyze('mlp_tanh_overscaled');
    const [g] = byRule(r, 'exploding-layer');
    assert.equal(g.members?.length, 10);
    assert.equal(g.id, 'exploding-layer:/layers.0/Gemm../layers.9/Gemm');
    assert.equal(remediesOf(r.findings, [g.id]).length, 10);
    assert.deepEqual(remediesOf(r.findings, ['exploding-layer']), remediesOf(r.findings, [g.id]));
    assert.deepEqual(remediesOf(r.findings, [g.members![3].id]), g.members![3].remedies);
    assert.equal(remediesOf(r.findings, [g.members![3].id]).length, 1);
  });
});
