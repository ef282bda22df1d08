import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { marked } from 'marked';
import { comparisonMarkdown, reportMarkdown } from '../../../src/core/report/markdown';
import { formatFigure, jacobianFigure } from '../../../src/core/report/figures';
import { compareFiles } from '../../../src/runtime/engine';
import { model, ROOT } from '../../helpers';

const quick = { executionProvider: 'cpu' as const, curvatureIterations: 0 };
const cli = path.join(ROOT, 'dist', 'cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--curvature-iterations', '0'], { encoding: 'utf8' });

describe('comparing two models', () => {
  it('the sigmoid MLP against ReLU + He: every layer matched, the first layer\'s gradient improved by the measured factor, the vanishing finding resolved', async () => {
    const { comparison: c, base, candidate } = await compareFiles(model('mlp_sigmoid'), model('mlp_relu_he'), quick);
    assert.equal(c.layers.length, 12);
    assert.ok(c.layers.every((p) => p.status === 'matched' && p.match === 'name'));
    const first = c.layers[0];
    assert.equal(first.change.gradient, candidate.layers[0].gradient.inputNorm! / base.layers[0].gradient.inputNorm!);
    assert.ok(first.change.gradient! > 1e9);
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
  });

  it('a model against itself: nothing changes, nothing introduced or resolved', async () => {
    const { comparison: c } = await compareFiles(model('resnet_small'), model('resnet_small'), quick);
    assert.ok(c.layers.every((p) => p.status === 'matched'));
    for (const p of c.layers) for (const v of Object.values(p.change)) assert.ok(v === null || Math.abs(v - 1) < 1e-9, `${p.candidate?.name}: ${v}`);
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
    assert.equal(cmp?.rows[0][4].text, `${formatFigure(jacobianFigure(first.base!.jacobian, 'sigmaMin'))} → ${formatFigure(jacobianFigure(first.candidate!.jacobian, 'sigmaMin'))}`);
    assert.match(cmp?.rows[0][4].text ?? '', /→ ≤ /);
    assert.match(comparisonMarkdown(comparison), /\*\*Pathological → Healthy\*\*/);
  });

  it('the CLI compares, gates on regressions, and compares a file with its version at a git revision', () => {
    const table = run('compare', model('mlp_sigmoid'), model('mlp_relu_he'), '--fail-on-regression');
    assert.equal(table.status, 0);
    // the terminal table's columns line up: each value starts under its "base" / "candidate" heading
    const [sub, first] = table.stdout.split('\n').filter((l) => /^\s+base|^\/layers\.0\//.test(l));
    const starts = (l: string) => [...l.matchAll(/\S+/g)].map((m) => m.index);
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
    assert.equal(out.comparison.base.verdict, 'pathological', 'the committed sigmoid version');
    assert.equal(out.comparison.candidate.verdict, 'healthy', 'the working copy');
    assert.match(run('compare', file, '--git-ref', 'nope').stderr, /git cannot show it at nope/);
  });
});
