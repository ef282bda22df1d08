import * as path from 'node:path';
import * as vscode from 'vscode';
import { errorMessage, isDoctorError } from '../core/errors';
import type { InspectResult } from '../core/inspect';
import { formatInspect } from '../core/report/inspectText';
import { WorkerClient } from '../runtime/workerClient';
import { CommandId } from './commands';
import { readEngineOptions } from './config';
import { SummaryDocuments, SUMMARY_SCHEME } from './summaryDocument';

/** What the extension exposes to its integration tests (the return value of activate). */
export interface GradientDoctorApi {
  /** Inspects a model through the worker and returns the result (also shown as a document). */
  inspect(uri: vscode.Uri): Promise<InspectResult | undefined>;
  /** The worker client, so tests can crash the worker. */
  readonly worker: WorkerClient;
  /** Fires with the message of every error shown to the user. */
  readonly onDidReportError: vscode.Event<string>;
}

/** Activated only by the contributed commands (package.json has no activation events); loads no onnxruntime. */
export function activate(context: vscode.ExtensionContext): GradientDoctorApi {
  const output = vscode.window.createOutputChannel('Gradient Doctor', { log: true });
  const worker = new WorkerClient({
    workerPath: path.join(context.extensionPath, 'dist', 'worker.js'),
    log: (line) => output.info(line),
  });
  const summaries = new SummaryDocuments();
  const errorReported = new vscode.EventEmitter<string>();
  context.subscriptions.push(
    output,
    summaries,
    errorReported,
    { dispose: () => worker.dispose() },
    vscode.workspace.registerTextDocumentContentProvider(SUMMARY_SCHEME, summaries),
  );

  const inspect = async (arg?: vscode.Uri): Promise<InspectResult | undefined> => {
    const uri = arg ?? (await pickModel());
    if (!uri) return undefined;
    if (!(await trustedEnough(uri))) return undefined;
    output.info(`inspect ${uri.fsPath}`);
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Gradient Doctor: ${path.basename(uri.fsPath)}`, cancellable: true },
        (progress, token) => {
          const abort = new AbortController();
          token.onCancellationRequested(() => abort.abort());
          return worker.run('inspect', uri.fsPath, readEngineOptions(uri), {
            signal: abort.signal,
            onProgress: (p) => progress.report({ message: p.message }),
          });
        },
      );
      const doc = await vscode.workspace.openTextDocument(summaries.set(uri, formatInspect(result)));
      await vscode.window.showTextDocument(doc, { preview: true });
      output.info(`inspected ${uri.fsPath}: ${result.summary.nodeCount} nodes on ${result.executionProvider.used}`);
      return result;
    } catch (e) {
      reportError(output, e, errorReported);
      return undefined;
    }
  };

  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.inspectModel, inspect),
    vscode.commands.registerCommand(CommandId.showLog, () => output.show()),
  );
  return { inspect, worker, onDidReportError: errorReported.event };
}

/** Nothing to tear down beyond the disposables. */
export function deactivate(): void {}

async function pickModel(): Promise<vscode.Uri | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.path.endsWith('.onnx')) return active;
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'ONNX models': ['onnx'] }, openLabel: 'Inspect' });
  return picked?.[0];
}

/** In an untrusted workspace, asks before running a model (restricted mode). */
async function trustedEnough(uri: vscode.Uri): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const run = 'Run Anyway';
  const answer = await vscode.window.showWarningMessage(
    `This folder is not trusted. Gradient Doctor runs ${path.basename(uri.fsPath)} with onnxruntime to analyse it. Run it anyway?`,
    { modal: true },
    run,
  );
  return answer === run;
}

function reportError(output: vscode.LogOutputChannel, e: unknown, reported: vscode.EventEmitter<string>): void {
  const message = errorMessage(e);
  if (isDoctorError(e) && e.kind === 'cancelled') {
    output.info(message);
    return;
  }
  output.error(message);
  reported.fire(message);
  void vscode.window.showErrorMessage(`Gradient Doctor: ${message}`, 'Show Log').then((choice) => {
    if (choice) output.show();
  });
}
