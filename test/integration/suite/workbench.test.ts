import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WhatIfResult } from '../../../src/core/diagnosis/whatIf';
import type { AnalysisReport } from '../../../src/core/report/types';
import type { Comparison } from '../../../src/core/review/compare';
import { api, workspaceDir, workspaceUri } from './helpers';

const OUTLINE = 'gradient-doctor-outline';
const outlineUri = (model: vscode.Uri) => vscode.Uri.from({ scheme: OUTLINE, path: `${model.path}.txt`, query: '' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined | false, ms = 30000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The 0-based line of a node in the outline text. */
function lineOfNode(text: string, node: string): number {
  const i = text.split('\n').findIndex((l) => l.endsWith(`# ${node}`));
  assert.ok(i >= 0, `node ${node} has a line`);
  return i;
}

const analyze = (rel: string) => vscode.commands.executeCommand<AnalysisReport | undefined>('gradientDoctor.analyzeModel', workspaceUri(...rel.split('/')));

describe('Gradient Doctor in the editor: analysis, report, outline with diagnostics, source mapping', () => {
  it('Analyze Model (explorer command) analyses in the worker and opens the report editor, which receives the report', async () => {
    const gd = await api();
    const model = workspaceUri('models', 'mlp_sigmoid.onnx');
    const before = readdirSync(path.join(workspaceDir(), 'models')).sort();
    const report = await analyze('models/mlp_sigmoid.onnx');
    assert.ok(report, 'the command returned the report');
    assert.equal(report.verdict?.status, 'pathological');
    assert.equal(report.findings[0].rule, 'vanishing-gradient');
    await until('the report editor to receive the report', () => gd.reports.posted.get(model.toString()) === 'report');
    const tab = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    assert.ok(tab instanceof vscode.TabInputCustom && tab.viewType === 'gradientDoctor.report', 'the custom editor is the active tab');
    assert.deepEqual(readdirSync(path.join(workspaceDir(), 'models')).sort(), before, 'nothing written beside the model');
  });

  it('exports the report as self-contained HTML, Markdown, SARIF (on the Python lines), JSON and a Netron attachment', async () => {
    const model = workspaceUri('models', 'mlp_sigmoid.onnx');
    const exported = async (name: string) => {
      const dest = vscode.Uri.file(path.join(os.tmpdir(), `gd-export-${Date.now()}-${name}`));
      const written = await vscode.commands.executeCommand<vscode.Uri>('gradientDoctor.exportReport', model, dest);
      assert.equal(written?.fsPath, dest.fsPath, name);
      return readFileSync(dest.fsPath, 'utf8');
    };
    const html = await exported('report.html');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.match(html, /<script type="application\/json" id="gd-data">\{"schemaVersion":1/);
    assert.match(await exported('report.md'), /^## Gradient Doctor: `mlp_sigmoid\.onnx` is Pathological/);
    const report = JSON.parse(await exported('report.json')) as AnalysisReport;
    assert.equal(report.findings[0].rule, 'vanishing-gradient');
    const netron = JSON.parse(await exported('model.netron.json')) as { signature: string; metrics: Array<{ kind: string; target: string; name: string; value: number }> };
    assert.equal(netron.signature, 'netron:attachment');
    assert.ok(netron.metrics.some((m) => m.kind === 'node' && m.target === report.layers[0].nodes[0] && m.name === 'sigma_max' && m.value === Number(report.layers[0].jacobian.sigmaMax!.toPrecision(4))));
    const sarif = JSON.parse(await exported('findings.sarif')) as { version: string; runs: Array<{ results: Array<{ ruleId: string; locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region?: { startLine: number } } }> }> }> };
    assert.equal(sarif.version, '2.1.0');
    const vanishing = sarif.runs[0].results.find((r) => r.ruleId === 'vanishing-gradient');
    const line = readFileSync(workspaceUri('python', 'make_fixtures.py').fsPath, 'utf8').split('\n').findIndex((l) => /self\.layers = nn\.ModuleList/.test(l));
    assert.deepEqual(vanishing?.locations[0].physicalLocation, { artifactLocation: { uri: 'python/make_fixtures.py' }, region: { startLine: line + 1 } });
    const refused = await vscode.commands.executeCommand<vscode.Uri | undefined>('gradientDoctor.exportReport', model, model);
    assert.equal(refused, undefined, 'never over the model');
  });

  it('Export Report from the explorer (which passes the selection as the second argument) asks for the format', async () => {
    const gd = await api();
    const errors: string[] = [];
    const sub = gd.onDidReportError((m) => errors.push(m));
    const model = workspaceUri('models', 'mlp_sigmoid.onnx');
    const pending = vscode.commands.executeCommand<vscode.Uri | undefined>('gradientDoctor.exportReport', model, [model]);
    await sleep(1500);
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(await pending, undefined, 'dismissing the format picker exports nothing');
    sub.dispose();
    assert.deepEqual(errors, []);
  });

  it('two concurrent requests for one model share one run', async () => {
    const gd = await api();
    const model = workspaceUri('models', 'mlp_opset7.onnx');
    const [a, b] = await Promise.all([gd.analyses.analyze(model), gd.analyses.analyze(model)]);
    assert.ok(a && a === b, 'the same report object: one run');
  });

  it('a second request for the same model and settings is served from the cache', async () => {
    const gd = await api();
    const first = await gd.analyses.analyze(workspaceUri('models', 'mlp_sigmoid.onnx'));
    const again = await gd.analyses.analyze(workspaceUri('models', 'mlp_sigmoid.onnx'));
    // a run in the worker would come back as a new object (a structured clone from another process)
    assert.ok(first && again === first, 'the cached report itself');
  });

  it('the outline has the findings as diagnostics on their nodes\' lines, with the right severities, a group once with its members\' lines', async () => {
    const model = workspaceUri('models', 'mlp_sigmoid.onnx');
    const editor = await vscode.commands.executeCommand<vscode.TextEditor>('gradientDoctor.showOutline', model);
    assert.ok(editor);
    const text = editor.document.getText();
    assert.match(text, /^torch_jit \(float\[batch,32\] x\) => \(float\[batch,32\] y\)$/m);
    assert.match(text, /# layer 1: \/layers\.0\/Gemm \(Gemm \+ Sigmoid\)/);
    const diags = await until('diagnostics on the outline', () => {
      const d = vscode.languages.getDiagnostics(outlineUri(model));
      return d.length > 0 && d;
    });
    const first = lineOfNode(text, '/layers.0/Gemm');
    const vanishing = diags.find((d) => d.code === 'vanishing-gradient');
    assert.equal(vanishing?.range.start.line, first);
    assert.equal(vanishing?.severity, vscode.DiagnosticSeverity.Error);
    assert.match(vanishing!.message, /Fix: Swap the 11 hidden Sigmoid activations/);
    // the 12 contracting layers are one finding: one diagnostic on the first one's line, each layer's line related to it
    const contracting = diags.filter((d) => d.code === 'contracting-layer');
    assert.equal(contracting.length, 1);
    assert.equal(contracting[0].severity, vscode.DiagnosticSeverity.Warning);
    assert.equal(contracting[0].range.start.line, first);
    assert.match(contracting[0].message, /^Contracting layers: 12 layers contract signals/);
    const related = contracting[0].relatedInformation ?? [];
    assert.deepEqual(related.map((r) => r.location.range.start.line), Array.from({ length: 12 }, (_, i) => lineOfNode(text, `/layers.${i}/Gemm`)));
    assert.ok(related.every((r) => r.location.uri.toString() === outlineUri(model).toString()));
    assert.match(related[5].message, /^Contracting layer: \/layers\.5\/Gemm shrinks signals/);
    const info = diags.find((d) => d.code === 'learning-rate');
    assert.equal(info?.severity, vscode.DiagnosticSeverity.Information);
  });

  it('hovers on a layer\'s line show its figures and fix; CodeLens flags the layer; a code action previews the fix', async () => {
    const model = workspaceUri('models', 'mlp_sigmoid.onnx');
    const report = (await (await api()).analyses.get(model))!.report;
    const doc = await vscode.workspace.openTextDocument(outlineUri(model));
    const line = lineOfNode(doc.getText(), '/layers.3/Gemm');
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, new vscode.Position(line, 4));
    const md = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    const layer = report.layers.find((l) => l.name === '/layers.3/Gemm')!;
    assert.match(md, /\*\*\/layers\.3\/Gemm\*\* · Gemm \+ Sigmoid · layer 4 of 12/);
    assert.ok(md.includes(`| σmax | ${layer.jacobian.sigmaMax!.toPrecision(3)} |`), md);
    assert.match(md, /\| condition κ \| \d/);
    assert.match(md, /contracting-layer/);
    // the group's member on this layer explains it: its own figure, and the group it belongs to
    assert.match(md, /Contracting layer: \/layers\.3\/Gemm shrinks signals/);
    assert.match(md, /\*One of 12:\* Contracting layers: 12 layers contract signals/);
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri);
    const lens = lenses.find((l) => l.range.start.line === lineOfNode(doc.getText(), '/layers.0/Gemm'));
    assert.match(lens?.command?.title ?? '', /^σmax 0\.258 · vanishing-gradient \(\+\d+\) · Show fix$/);
    const first = lineOfNode(doc.getText(), '/layers.0/Gemm');
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, new vscode.Range(first, 0, first, 10));
    const preview = actions.find((a) => a.title === 'Preview fix (what-if): vanishing-gradient');
    assert.ok(preview?.command, actions.map((a) => a.title).join(', '));
    const result = await vscode.commands.executeCommand<WhatIfResult>(preview.command.command, ...(preview.command.arguments ?? []));
    assert.deepEqual(result.verdict, ['pathological', 'healthy']);
    assert.ok(result.layers[0].gradientInput[1]! > 1e6 * result.layers[0].gradientInput[0]!);
    const shown = vscode.workspace.textDocuments.find((d) => d.uri.path.endsWith('mlp_sigmoid.onnx.whatif.summary.txt'));
    assert.match(shown?.getText() ?? '', /Verdict {4}pathological → healthy/);
  });

  it('findings land on the Python lines that define the layers: the exporter\'s stack, else the module name (best effort)', async () => {
    const script = workspaceUri('python', 'make_fixtures.py');
    const lines = readFileSync(script.fsPath, 'utf8').split('\n');
    const forward = lines.findIndex((l) => /x = self\.act\(layer\(x\)\)/.test(l));
    const moduleList = lines.findIndex((l) => /self\.layers = nn\.ModuleList/.test(l));
    // mlp_sigmoid has no stack traces: its node names carry the module path /layers.N/...
    let diags = await until('module-name diagnostics in make_fixtures.py', () => {
      const d = vscode.languages.getDiagnostics(script);
      return d.length > 0 && d;
    });
    assert.ok(diags.some((d) => d.range.start.line === moduleList && /best-effort match of module 'layers'/.test(d.message) && d.code === 'vanishing-gradient'));
    // mlp_traced was exported with verbose=True: its doc strings name MLP.forward's line
    const traced = await analyze('models/mlp_traced.onnx');
    assert.ok(traced?.findings.some((f) => f.rule === 'exploding-layer'));
    diags = await until('stack-trace diagnostics in make_fixtures.py', () => {
      const d = vscode.languages.getDiagnostics(script).filter((x) => x.range.start.line === forward);
      return d.length > 0 && d;
    });
    assert.ok(diags.some((d) => d.code === 'exploding-layer' && /mlp_traced\.onnx, node \/layers\.\d\/Gemm/.test(d.message)));
    // clearing one model's analysis removes its diagnostics, not the other's
    await vscode.commands.executeCommand('gradientDoctor.clearAnalysis', workspaceUri('models', 'mlp_traced.onnx'));
    const left = vscode.languages.getDiagnostics(script);
    assert.ok(!left.some((d) => d.range.start.line === forward));
    assert.ok(left.some((d) => d.range.start.line === moduleList));
  });

  it('Python files created after the first analysis are seen by the next one (the file watcher keeps the index current)', async () => {
    await analyze('models/mlp_sigmoid.onnx'); // the index is read by now
    const later = workspaceUri('python', 'later_net.py');
    const text = 'import torch.nn as nn\n\n\nclass Later(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.layers = nn.ModuleList([nn.Linear(32, 32) for _ in range(12)])\n';
    await vscode.workspace.fs.writeFile(later, new TextEncoder().encode(text));
    try {
      await sleep(1500);
      await analyze('models/mlp_sigmoid.onnx');
      const diags = await until('diagnostics on the new file', () => {
        const d = vscode.languages.getDiagnostics(later);
        return d.length > 0 && d;
      });
      assert.ok(diags.every((d) => d.range.start.line === 6), 'on its self.layers line');
      assert.ok(diags.some((d) => d.code === 'vanishing-gradient'));
    } finally {
      await vscode.workspace.fs.delete(later);
    }
    await sleep(1500);
    await analyze('models/mlp_sigmoid.onnx');
    await until('no diagnostics on the deleted file', () => vscode.languages.getDiagnostics(later).length === 0);
  });

  it('Compare Models from the explorer (two files selected) shows the comparison', async () => {
    const a = workspaceUri('models', 'mlp_sigmoid.onnx');
    const b = workspaceUri('models', 'mlp_relu_he.onnx');
    const c = await vscode.commands.executeCommand<Comparison>('gradientDoctor.compareModels', a, [a, b]);
    assert.ok(c, 'a comparison');
    assert.equal(c.layers.filter((p) => p.status === 'matched').length, 12);
    assert.ok(c.resolved.some((f) => f.rule === 'vanishing-gradient'));
    const gd = await api();
    const shown = await until('the comparison panel to receive the comparison', () => gd.comparisons.posted.get('mlp_relu_he.onnx ↔ mlp_sigmoid.onnx'));
    assert.equal(shown.comparison, c);
    const tab = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    assert.ok(tab instanceof vscode.TabInputWebview && tab.viewType.endsWith('gradientDoctor.comparison'), 'the comparison panel is the active tab');
    const dir = path.join(os.tmpdir(), `gd-compare-${Date.now()}`);
    mkdirSync(dir);
    for (const ext of ['md', 'html', 'json']) {
      const dest = vscode.Uri.file(path.join(dir, `compare.${ext}`));
      assert.equal((await vscode.commands.executeCommand<vscode.Uri>('gradientDoctor.exportComparison', dest))?.fsPath, dest.fsPath);
    }
    assert.match(readFileSync(path.join(dir, 'compare.md'), 'utf8'), /\*\*Pathological → Healthy\*\*/);
    assert.match(readFileSync(path.join(dir, 'compare.html'), 'utf8'), /<script type="application\/json" id="gd-data">\{"comparison":/);
    const json = JSON.parse(readFileSync(path.join(dir, 'compare.json'), 'utf8')) as { comparison: { resolved: Array<{ rule: string }> }; base: AnalysisReport; candidate: AnalysisReport };
    assert.ok(json.comparison.resolved.some((f) => f.rule === 'vanishing-gradient'));
    assert.equal(json.candidate.verdict?.status, 'healthy');
  });

  it('a comparison leaves its introduced findings as review comments on the Python lines of the changed modules', async () => {
    const base = workspaceUri('models', 'mlp_relu_he.onnx');
    const candidate = workspaceUri('models', 'mlp_sigmoid.onnx');
    const c = await vscode.commands.executeCommand<Comparison>('gradientDoctor.compareModels', base, [base, candidate]);
    assert.ok(c?.introduced.some((f) => f.rule === 'vanishing-gradient'));
    const threads = (await api()).reviewThreads();
    const script = workspaceUri('python', 'make_fixtures.py').fsPath;
    const line = readFileSync(script, 'utf8').split('\n').findIndex((l) => /self\.layers = nn\.ModuleList/.test(l));
    const t = threads.find((x) => x.file === script && x.line === line);
    assert.ok(t, JSON.stringify(threads.map((x) => [x.file, x.line])));
    assert.match(t.label, /^Gradient Doctor: \d+ introduced, 0 resolved$/);
    assert.match(t.body, /\*\*Introduced error `vanishing-gradient`\*\*/);
  });

  it('Compare with Git Revision compares a model with its committed version', async () => {
    const repo = path.join(workspaceDir(), 'gitrepo');
    mkdirSync(repo);
    const git = (...a: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.email=t@t', '-c', 'user.name=t', ...a], { encoding: 'utf8' });
    git('init', '-q');
    copyFileSync(workspaceUri('models', 'mlp_sigmoid.onnx').fsPath, path.join(repo, 'net.onnx'));
    git('add', 'net.onnx');
    git('commit', '-qm', 'sigmoid');
    copyFileSync(workspaceUri('models', 'mlp_relu_he.onnx').fsPath, path.join(repo, 'net.onnx'));
    const c = await vscode.commands.executeCommand<Comparison>('gradientDoctor.compareWithRevision', vscode.Uri.file(path.join(repo, 'net.onnx')), 'HEAD');
    assert.equal(c?.base.verdict, 'pathological', 'the committed sigmoid stack');
    assert.equal(c?.candidate.verdict, 'healthy', 'the working copy');
  });

  it('cancelling mid-analysis stops it, and the next analysis succeeds', async () => {
    const gd = await api();
    const model = workspaceUri('models', 'resnet_small.onnx');
    const pending = gd.analyses.analyze(model, { force: true });
    await until('the analysis to start', () => gd.analyses.isBusy(model) && gd.worker.pendingCount > 0);
    await sleep(500);
    await vscode.commands.executeCommand('gradientDoctor.cancelAnalysis', model);
    assert.equal(await pending, undefined, 'a cancelled analysis resolves undefined');
    assert.equal(gd.analyses.isBusy(model), false, 'no longer busy');
    const ok = await gd.analyses.analyze(workspaceUri('models', 'lstm.onnx'), { force: true });
    assert.ok(ok?.findings.some((f) => f.rule === 'recurrent-spectral-radius'));
  });

  it('a malformed model shows an error naming it, and the extension keeps working', async () => {
    const gd = await api();
    const errors: string[] = [];
    const sub = gd.onDidReportError((m) => errors.push(m));
    try {
      assert.equal(await analyze('malformed/truncated.onnx'), undefined);
      assert.match(errors[0] ?? '', /truncated\.onnx/);
    } finally {
      sub.dispose();
    }
    assert.ok(await analyze('models/mlp_relu_he.onnx'));
  });

  it('killing the worker mid-analysis gives an error, and the next analysis succeeds', async () => {
    const gd = await api();
    const errors: string[] = [];
    const sub = gd.onDidReportError((m) => errors.push(m));
    try {
      const pending = analyze('models/transformer.onnx');
      await until('the analysis to start', () => gd.worker.pendingCount > 0);
      gd.worker.crashForTest();
      assert.equal(await pending, undefined);
      assert.match(errors[0] ?? '', /worker was killed by SIGSEGV/);
    } finally {
      sub.dispose();
    }
    const ok = await analyze('models/mlp_tanh_overscaled.onnx');
    assert.equal(ok?.verdict?.status, 'at-risk');
  });

  it('a changed model is marked stale and its diagnostics are cleared', async () => {
    const gd = await api();
    const model = workspaceUri('models', 'mlp_tanh_overscaled.onnx');
    assert.ok(vscode.languages.getDiagnostics(outlineUri(model)).length > 0 || (await until('diagnostics', () => vscode.languages.getDiagnostics(outlineUri(model)).length > 0)));
    const bytes = await vscode.workspace.fs.readFile(model);
    await vscode.workspace.fs.writeFile(model, bytes);
    await until('the analysis to go stale', () => gd.analyses.get(model)?.stale);
    await until('diagnostics cleared', () => vscode.languages.getDiagnostics(outlineUri(model)).length === 0);
  });

  (process.env.GD_SCREENSHOTS ? it : it.skip)('screenshots of the report editor, the outline with squiggles and a hover', async () => {
    const shot = async (name: string) => {
      console.log(`GD_SCREENSHOT ${name}`);
      await sleep(2500);
    };
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('notifications.clearAll');
    const model = workspaceUri('models', 'mlp_sigmoid.onnx');
    await vscode.commands.executeCommand('vscode.openWith', model, 'gradientDoctor.report');
    await sleep(3000);
    await shot('vscode-report-editor');
    const editor = await vscode.commands.executeCommand<vscode.TextEditor>('gradientDoctor.showOutline', model);
    const line = lineOfNode(editor.document.getText(), '/layers.0/Gemm');
    editor.revealRange(new vscode.Range(line, 0, line, 0), vscode.TextEditorRevealType.AtTop);
    await vscode.commands.executeCommand('workbench.actions.view.problems');
    await sleep(1500);
    await shot('vscode-outline-diagnostics');
    const sigmoid = lineOfNode(editor.document.getText(), '/Sigmoid_3');
    editor.selection = new vscode.Selection(sigmoid, 6, sigmoid, 6);
    await vscode.commands.executeCommand('editor.action.showHover');
    await sleep(1500);
    await shot('vscode-hover');
    await vscode.commands.executeCommand('editor.action.hideHover');
    const script = await vscode.window.showTextDocument(workspaceUri('python', 'make_fixtures.py'));
    const def = script.document.getText().split('\n').findIndex((l) => /self\.layers = nn\.ModuleList/.test(l));
    script.revealRange(new vscode.Range(def, 0, def, 0), vscode.TextEditorRevealType.InCenter);
    script.selection = new vscode.Selection(def, 12, def, 12);
    await vscode.commands.executeCommand('notifications.clearAll');
    await sleep(1500);
    await shot('vscode-python-diagnostics');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const base = workspaceUri('models', 'mlp_sigmoid.onnx');
    await vscode.commands.executeCommand('gradientDoctor.compareModels', base, [base, workspaceUri('models', 'mlp_relu_he.onnx')]);
    await vscode.commands.executeCommand('workbench.action.closePanel');
    await vscode.commands.executeCommand('notifications.clearAll');
    await sleep(2500);
    await shot('vscode-compare');
  });
});
