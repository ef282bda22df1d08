import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { marked } from 'marked';
import { comparisonMarkdown, reportMarkdown } from '../../../src/core/report/markdown';
import { fmt, formatFigure, jacobianFigure } from '../../../src/core/report/figures';
import type { AnalysisReport, Figure } from '../../../src/core/report/types';
import { resolveThresholds } from '../../../src/core/diagnosis/thresholds';
import { compareReports, figureRatio, pairFigure, ratioText, type LayerPair } from '../../../src/core/review/compare';
import { compareFiles } from '../../../src/runtime/engine';
import { model, ROOT } from '../../helpers';

const quick = { executionProvider: 'cpu' as const, curvatureIterations: 0 };
const cli = path.join(ROOT, 'dist', 'cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--curvature-iterations', '0'], { encoding: 'utf8' });

describe('a change between a base and a candidate figure', () => {
  const exact = (value: number, error?: number): Figure => ({ value, kind: 'exact', error });
  it('is a measurement between measurements, a bound in the direction the bounds allow, and otherwise no number but the reason', () => {
    assert.deepEqual(figureRatio(exact(2), exact(6)), { value: 3, kind: 'exact' });
    const est = figureRatio({ value: 2, kind: 'estimate', error: 0.2 }, exact(6, 0.06));
    assert.equal((est as Figure).kind, 'estimate');
    assert.ok(Math.abs((est as Figure).error! - 3 * (0.1 + 0.01)) < 1e-12);
    // a lower-bound candidate over a measured base: the change is at least their ratio
    assert.deepEqual(figureRatio(exact(2), { value: 6, kind: 'lower-bound' }), { value: 3, kind: 'lower-bound' });
    // an upper-bound candidate, or a lower-bound base: at most
    assert.deepEqual(figureRatio(exact(2), { value: 6, kind: 'upper-bound' }), { value: 3, kind: 'upper-bound' });
    assert.deepEqual(figureRatio({ value: 2, kind: 'lower-bound' }, exact(6)), { value: 3, kind: 'upper-bound' });
    assert.deepEqual(figureRatio({ value: 2, kind: 'upper-bound' }, exact(6)), { value: 3, kind: 'lower-bound' });
    // a measurement within its error bar of 0 is only "at most the error bar"
    assert.deepEqual(figureRatio(exact(4), exact(1e-9, 1e-3)), { value: 2.5e-4, kind: 'upper-bound' });
    // two lower bounds, a base at 0, a missing or infinite figure: no ratio, and why
    assert.match((figureRatio({ value: 2, kind: 'lower-bound' }, { value: 6, kind: 'lower-bound' }, 'σmax') as { reason: string }).reason, /σmax is only bounded/);
    assert.match((figureRatio(exact(0), exact(1), 'the input gradient') as { reason: string }).reason, /of the base is 0/);
    assert.match((figureRatio(null, exact(1), 'σmin') as { reason: string }).reason, /σmin of the base was not computed/);
    assert.match((figureRatio(exact(1), exact(Infinity)) as { reason: string }).reason, /not finite on the candidate/);
    assert.deepEqual([figureRatio(exact(2), exact(6)), { value: 3, kind: 'lower-bound' }, { value: 3, kind: 'upper-bound' }, { reason: 'x' }, null].map((r) => ratioText(r as Figure)), ['×3.00', '≥ ×3.00', '≤ ×3.00', '—', '']);
  });
});

describe('comparing two models', () => {
  it('the sigmoid MLP against ReLU + He: every layer matched, the first layer\'s gradient improved by the measured factor, the vanishing finding resolved', async () => {
    const { comparison: c, base, candidate } = await compareFiles(model('mlp_sigmoid'), model('mlp_relu_he'), quick);
    assert.equal(c.layers.length, 12);
    assert.ok(c.layers.every((p) => p.status === 'matched' && p.match === 'name'));
    const first = c.layers[0];
    assert.deepEqual(first.change.gradient, { value: candidate.layers[0].gradient.inputNorm! / base.layers[0].gradient.inputNorm!, kind: 'exact' });
    assert.ok((first.change.gradient as Figure).value > 1e9);
    // the candidate's ReLU σmin is within its error bar of 0 ("≤ e"), the base's a measurement: the change is at most e / base, a bound
    const [bj, cj] = [base.layers[0].jacobian, candidate.layers[0].jacobian];
    assert.equal(formatFigure(jacobianFigure(cj, 'sigmaMin')), `≤ ${fmt(cj.errors!.sigmaMin)}`);
    assert.deepEqual(first.change.sigmaMin, { value: cj.errors!.sigmaMin / bj.sigmaMin!, kind: 'upper-bound' });
    // σmax: two exact measurements, the error bar from both relative errors
    const sm = first.change.sigmaMax as Figure;
    assert.equal(sm.kind, 'exact');
    assert.equal(sm.value, cj.sigmaMax! / bj.sigmaMax!);
    assert.ok(Math.abs(sm.error! - sm.value * (bj.errors!.sigmaMax / bj.sigmaMax! + cj.errors!.sigmaMax / cj.sigmaMax!)) < 1e-12 * sm.value);
    assert.ok(c.resolved.some((f) => f.rule === 'vanishing-gradient'));
    assert.deepEqual(c.introduced.filter((f) => f.severity !== 'info'), []);
    assert.deepEqual(c.regressions, []);
    assert.deepEqual([c.base.verdict, c.candidate.verdict], ['pathological', 'healthy']);
    // the other way round is a regression
    const back = await compareFiles(model('mlp_relu_he'), model('mlp_sigmoid'), quick);
    assert.ok(back.comparison.regressions.some((r) => /introduced error vanishing-gradient/.test(r)));
    // a grouped finding compares member by member: wholly resolved, it is resolved as the group
    const contracting = c.resolved.filter((f) => f.rule === 'contracting-layer');
    assert.deepEqual(contracting.map((f) => f.members?.length), [12]);
    assert.ok(back.comparison.regressions.includes('introduced warning contracting-layer on 12 layers (/layers.0/Gemm .. /layers.11/Gemm)'), back.comparison.regressions.join('; '));
    assert.ok(back.comparison.regressions.some((r) => /rms gain .* crosses 0\.2/.test(r)));
    // a figure crosses a limit only when its kind shows it: a lower bound past the σmax limit does, an upper bound does not
    const t = resolveThresholds({});
    const bounded = (kind: 'lower-bound' | 'upper-bound') => {
      const r: AnalysisReport = structuredClone(candidate);
      r.layers[0].jacobian.sigmaMax = 4 * t.explodingLayerSigmaMax;
      r.layers[0].jacobian.kinds = { ...r.layers[0].jacobian.kinds!, sigmaMax: kind };
      return compareReports(candidate, r, t).regressions.filter((x) => /σmax/.test(x));
    };
    assert.deepEqual(bounded('lower-bound'), [`/layers.0/Gemm: σmax ${formatFigure(jacobianFigure(candidate.layers[0].jacobian, 'sigmaMax'))} → ≥ ${fmt(4 * t.explodingLayerSigmaMax)} crosses ${t.explodingLayerSigmaMax}`]);
    assert.deepEqual(bounded('upper-bound'), []);
  });

  it('a model against itself: nothing changes, nothing introduced or resolved', async () => {
    const { comparison: c } = await compareFiles(model('resnet_small'), model('resnet_small'), quick);
    assert.ok(c.layers.every((p) => p.status === 'matched'));
    // a figure against itself changes by 1, unless it is only bounded: two bounds (a Lanczos layer's σmax, a ReLU σmin within its error bar of 0) say nothing of the change
    const open: string[] = [];
    for (const p of c.layers) {
      for (const [name, v] of Object.entries(p.change)) {
        assert.ok(v !== null, `${p.candidate?.name} ${name}: a matched layer has a change`);
        if ('reason' in v) {
          const kinds = [p.base!, p.candidate!].map((l) => formatFigure(pairFigure(l, name as keyof LayerPair['change'])));
          assert.ok(kinds.every((k) => /^[≤≥] /.test(k)), `${p.candidate?.name} ${name}: no ratio only between bounds, not ${kinds.join(', ')}`);
          assert.match(v.reason, /only bounded .* on both sides/);
          open.push(`${p.candidate?.name} ${name}`);
        } else assert.ok(Math.abs(v.value - 1) < 1e-9 && (v.kind === 'exact' || v.kind === 'estimate'), `${p.candidate?.name} ${name}: ${JSON.stringify(v)}`);
      }
    }
    assert.ok(open.includes('/layer1/layer1.0/conv1/Conv sigmaMax'), `the Lanczos layer's σmax bounds leave the change open: ${open.join(', ')}`);
    assert.deepEqual([c.introduced, c.resolved, c.regressions], [[], [], []]);
  });

  it('pairs layers by module path and by op types in depth order when names differ, and shows added layers', async () => {
    const { comparison: c } = await compareFiles(model('mlp_tanh_overscaled'), model('mlp_traced'), quick);
    // 10 tanh layers against 6 with the same names: 6 matched by name, 4 removed
    assert.equal(c.layers.filter((p) => p.status === 'matched').length, 6);
    assert.equal(c.layers.filter((p) => p.status === 'removed').length, 4);
  });

  it('renders Markdown with the findings (a group with its layers), the flagged-layer table and the comparison table', async () => {
    const { comparison, base } = await compareFiles(model('mlp_sigmoid'), model('mlp_relu_he'), quick);
    const tokens = marked.lexer(reportMarkdown(base));
    const table = tokens.find((t) => t.type === 'table') as { header: Array<{ text: string }>; rows: Array<Array<{ text: string }>> } | undefined;
    assert.deepEqual(table?.header.map((h) => h.text), ['layer', 'σmax', 'σmin', 'rms gain', 'κ', '‖∂L/∂in‖', 'findings']);
    assert.equal(table?.rows.length, 12);
    assert.ok(table?.rows.every((r) => r[6].text.includes('contracting-layer')), 'every layer of the group is flagged');
    // the findings: one item for the 12 contracting layers, listing each with its figure
    const list = tokens.find((t) => t.type === 'list') as { items: Array<{ text: string }> } | undefined;
    const group = base.findings.find((f) => f.rule === 'contracting-layer')!;
    assert.equal(list?.items.length, base.findings.length);
    const items = list!.items.filter((i) => i.text.includes('**contracting-layer**'));
    assert.equal(items.length, 1);
    assert.ok(items[0].text.includes(group.message));
    assert.match(items[0].text, /\*Layers \(12\):\* `\/layers\.0\/Gemm` 0\.1\d+ · `\/layers\.1\/Gemm` 0\.1\d+ · /);
    for (const m of group.members!) assert.ok(items[0].text.includes(`\`${m.layer}\` ${formatFigure({ value: m.measured!, kind: m.measuredKind! })}`), m.layer);
    assert.match(marked.parse(reportMarkdown(base)) as string, /<h2>Gradient Doctor: <code>mlp_sigmoid\.onnx<\/code> is Pathological<\/h2>/);
    const cmp = marked.lexer(comparisonMarkdown(comparison)).find((t) => t.type === 'table') as { header: Array<{ text: string }>; rows: Array<Array<{ text: string }>> } | undefined;
    assert.equal(cmp?.rows.length, 12);
    assert.deepEqual(cmp?.header.map((h) => h.text), ['layer', 'status', 'rms gain', 'σmax', 'σmin', '‖∂L/∂in‖', 'gradient change']);
    const first = comparison.layers[0];
    // printed with its kind: a ReLU layer's sigma_min within its error bar of 0 reads '≤ error bar'
    assert.equal(cmp?.rows[0][4].text, `${formatFigure(jacobianFigure(first.base!.jacobian, 'sigmaMin'))} → ${formatFigure(jacobianFigure(first.candidate!.jacobian, 'sigmaMin'))} (≤ ×${fmt((first.change.sigmaMin as Figure).value)})`);
    assert.match(cmp?.rows[0][4].text ?? '', /→ ≤ .* \(≤ ×/);
    // and under the table, what a bound on a change is
    assert.match(comparisonMarkdown(comparison), /^- "≥ ×" and "≤ ×" \(σmin\): a bound on the change, not a measurement/m);
    assert.match(comparisonMarkdown(comparison), /\*\*Pathological → Healthy\*\*/);
  });

  it('the CLI compares, gates on regressions, and compares a file with its version at a git revision', () => {
    const table = run('compare', model('mlp_sigmoid'), model('mlp_relu_he'), '--fail-on-regression');
    assert.equal(table.status, 0);
    // the terminal table's columns line up: each value starts under its "base" / "candidate" heading
    const [sub, first] = table.stdout.split('\n').filter((l) => /^\s+base|^\/layers\.0\//.test(l));
    // (cells are two spaces apart; a bound such as "≤ 3.8e-5" is one cell)
    const starts = (l: string) => [...l.matchAll(/\S+(?: \S+)*/g)].map((m) => m.index);
    assert.deepEqual(starts(sub), starts(first).slice(2, 10));
    const worse = run('compare', model('mlp_relu_he'), model('mlp_sigmoid'), '--fail-on-regression', '--format', 'md');
    assert.equal(worse.status, 1);
    assert.match(worse.stdout, /### Regressions/);
    assert.equal(run('compare', model('mlp_relu_he')).status, 2, 'one model needs --git-ref');
    const repo = mkdtempSync(path.join(tmpdir(), 'gd-git-'));
    const git = (...a: string[]) => spawnSync('git', ['-C', repo, '-c', 'user.email=t@t', '-c', 'user.name=t', ...a], { encoding: 'utf8' });
    git('init', '-q');
    const file = path.join(repo, 'net.onnx');
    copyFileSync(model('mlp_sigmoid'), file);
    git('add', 'net.onnx');
    assert.equal(git('commit', '-qm', 'sigmoid').status, 0);
    copyFileSync(model('mlp_relu_he'), file);
    const r = run('compare', file, '--git-ref', 'HEAD', '--format', 'json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.comparison.layers[0].change.sigmaMin.kind, 'upper-bound', 'the JSON says a bound is a bound');
    assert.equal(out.comparison.base.verdict, 'pathological', 'the committed sigmoid version');
    assert.equal(out.comparison.candidate.verdict, 'healthy', 'the working copy');
    assert.match(run('compare', file, '--git-ref', 'nope').stderr, /git cannot show it at nope/);
  });
});
