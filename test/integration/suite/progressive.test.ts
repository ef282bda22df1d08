import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ModelAnalysis } from '../../../src/extension/analysisManager';
import { api, workspaceUri } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Gradient Doctor in the editor: the first answer, refinements, and Cancel keeping what is done', () => {
  it('the report editor receives the first answer, refinements, then the final report', async () => {
    const gd = await api();
    const model = workspaceUri('models', 'resnet_small.onnx');
    const seen: Array<{ phase?: string; refining?: boolean }> = [];
    const sub = gd.analyses.onDidChange((a: ModelAnalysis) => {
      if (a.uri.toString() === model.toString()) seen.push({ phase: a.report.run.phase, refining: a.refining });
    });
    try {
      await vscode.commands.executeCommand('vscode.openWith', model, 'gradientDoctor.report');
      const report = await gd.analyses.analyze(model, { force: true, confirmLarge: false });
      assert.ok(report && report.run.phase === undefined, 'the final report has no phase');
      assert.deepEqual(seen[0], { phase: 'first-answer', refining: true }, JSON.stringify(seen));
      assert.deepEqual(seen[seen.length - 1], { phase: undefined, refining: false });
      assert.equal(gd.reports.posted.get(model.toString()), 'report');
    } finally {
      sub.dispose();
    }
  });

  it('Cancel after the first answer keeps the figures so far, marked partial, in the report editor', async () => {
    const gd = await api();
    const model = workspaceUri('models', 'resnet_small.onnx');
    const sub = gd.analyses.onDidChange((a: ModelAnalysis) => {
      if (a.uri.toString() === model.toString() && a.refining) gd.analyses.cancel(model);
    });
    try {
      const report = await gd.analyses.analyze(model, { force: true, confirmLarge: false });
      assert.equal(report, undefined, 'a cancelled analysis resolves undefined');
    } finally {
      sub.dispose();
    }
    const kept = gd.analyses.get(model);
    assert.ok(kept?.report.run.phase, 'the partial report is kept');
    assert.equal(kept.refining, false, 'no longer refining: it was stopped');
    await sleep(200);
    assert.equal(gd.reports.posted.get(model.toString()), 'report', 'the editor shows the kept figures, not a status line');
  });
});
