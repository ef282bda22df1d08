import * as assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { InspectResult } from '../../../src/core/inspect';
import { api, EXTENSION_ID, workspaceDir, workspaceUri } from './helpers';

const summaryText = () =>
  vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'gradient-doctor-summary' && vscode.window.visibleTextEditors.some((e) => e.document === d))?.getText() ?? '';

describe('Gradient Doctor: Inspect Model', () => {
  it('is not active before its first command (nothing loads onnxruntime at startup)', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, 'the extension is installed');
    assert.equal(ext.isActive, false);
  });

  it('contributes its commands and the explorer menu entry for .onnx files', async () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)?.packageJSON as {
      contributes: { commands: Array<{ command: string }>; menus: Record<string, Array<{ command: string; when: string }>> };
    };
    assert.ok(pkg.contributes.commands.some((c) => c.command === 'gradientDoctor.inspectModel'));
    await api();
    assert.ok((await vscode.commands.getCommands(true)).includes('gradientDoctor.inspectModel'), 'registered once active');
    assert.deepEqual(pkg.contributes.menus['explorer/context'].find((m) => m.command === 'gradientDoctor.inspectModel')?.when, 'resourceExtname == .onnx');
  });

  it('inspects a fixture model through the real worker and shows the summary', async () => {
    const before = readdirSync(path.join(workspaceDir(), 'models')).sort();
    const result = (await vscode.commands.executeCommand('gradientDoctor.inspectModel', workspaceUri('models', 'resnet_small.onnx'))) as InspectResult;
    assert.ok(result, 'the command returned a result');
    assert.equal(result.executionProvider?.used, 'cpu');
    assert.equal(result.summary.opHistogram.find((h) => h.opType === 'Conv')?.count, 9);
    const doc = summaryText();
    assert.match(doc, /Parameters {2}\d/);
    assert.match(doc, /image {2}float32 \[batch, 3, 16, 16\]/);
    assert.match(doc, /BatchNormalization\s+9/);
    const gdApi = await api();
    assert.ok(gdApi.worker.pid && gdApi.worker.pid !== process.pid, 'onnxruntime ran in the worker process, not the extension host');
    assert.deepEqual(readdirSync(path.join(workspaceDir(), 'models')).sort(), before, 'nothing written beside the model');
  });

  for (const file of ['truncated.onnx', 'image.onnx', 'cycle.onnx', 'external_escape.onnx']) {
    it(`shows a clear error for malformed/${file} and keeps working`, async () => {
      const gdApi = await api();
      const errors: string[] = [];
      const sub = gdApi.onDidReportError((m) => errors.push(m));
      try {
        const result = await vscode.commands.executeCommand('gradientDoctor.inspectModel', workspaceUri('malformed', file));
        assert.equal(result, undefined);
        assert.equal(errors.length, 1);
        assert.ok(errors[0].includes(path.join('malformed', file)), `the error names the file: ${errors[0]}`);
      } finally {
        sub.dispose();
      }
      const ok = (await vscode.commands.executeCommand('gradientDoctor.inspectModel', workspaceUri('models', 'mlp_sigmoid.onnx'))) as InspectResult;
      assert.equal(ok.summary.nodeCount, 24);
    });
  }

  it('recovers when the worker crashes mid-request', async () => {
    const gdApi = await api();
    const errors: string[] = [];
    const sub = gdApi.onDidReportError((m) => errors.push(m));
    try {
      const pending = vscode.commands.executeCommand('gradientDoctor.inspectModel', workspaceUri('models', 'transformer.onnx'));
      for (let i = 0; i < 200 && gdApi.worker.pendingCount === 0; i++) await new Promise((r) => setTimeout(r, 10));
      gdApi.worker.crashForTest();
      assert.equal(await pending, undefined);
      assert.match(errors[0] ?? '', /worker was killed by SIGSEGV/);
    } finally {
      sub.dispose();
    }
    const ok = (await vscode.commands.executeCommand('gradientDoctor.inspectModel', workspaceUri('models', 'lstm.onnx'))) as InspectResult;
    assert.equal(ok.summary.opHistogram.find((h) => h.opType === 'LSTM')?.count, 1);
  });
});
