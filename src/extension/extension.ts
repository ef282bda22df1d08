import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatWhatIf, type WhatIfResult } from '../core/diagnosis/whatIf';
import { errorMessage, isDoctorError } from '../core/errors';
import type { InspectResult } from '../core/inspect';
import { formatInspect } from '../core/report/inspectText';
import { fmt } from '../core/report/table';
import type { Comparison, ComparisonResult } from '../core/review/compare';
import type { AnalysisReport } from '../core/report/types';
import { WorkerClient } from '../runtime/workerClient';
import { AnalysisManager } from './analysisManager';
import { ComparisonPanels } from './comparisonPanel';
import { CommandId } from './commands';
import { readEngineOptions, readRunOptions } from './config';
import { comparisonExport, exportArgs, exportTarget, reportExport, writeText } from './exporter';
import { FindingsPresenter } from './findings';
import { PythonFiles } from './pythonFiles';
import { fileAtRevision } from '../runtime/git';
import { REPORT_VIEW_TYPE, ReportEditorProvider } from './reportEditor';
import { ReviewComments, type ReviewThreadInfo } from './review';
import { SummaryDocuments, SUMMARY_SCHEME } from './summaryDocument';

/** What the extension exposes to its integration tests (the return value of activate). */
export interface GradientDoctorApi {
  /** Inspects a model through the worker and returns the result (also shown as a document). */
  inspect(uri: vscode.Uri): Promise<InspectResult | undefined>;
  /** The worker client, so tests can crash the worker. */
  readonly worker: WorkerClient;
  /** The analyses, their cache and queue. */
  readonly analyses: AnalysisManager;
  /** The report editors (which message each open report received last). */
  readonly reports: ReportEditorProvider;
  /** The comparison panels (which comparison each open panel received). */
  readonly comparisons: ComparisonPanels;
  /** The review threads the last comparison left on Python lines. */
  reviewThreads(): ReviewThreadInfo[];
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

  const log = (line: string) => output.info(line);
  const analyses = new AnalysisManager(worker, log);
  const python = new PythonFiles();
  context.subscriptions.push(python);
  const presenter = new FindingsPresenter(worker, analyses, log, python);
  const fail = (e: unknown) => reportError(output, e, errorReported);

  /** Shows a what-if preview: the fix applied to an in-memory copy, before and after. */
  const previewFix = async (modelArg?: string | vscode.Uri, findingId?: string): Promise<WhatIfResult | undefined> => {
    const model = typeof modelArg === 'string' ? vscode.Uri.parse(modelArg) : modelArg;
    if (!model || !findingId) return undefined;
    if (!(await trustedEnough(model))) return undefined;
    try {
      const options = { ...readRunOptions(model), whatIf: { fixes: [findingId] } };
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Gradient Doctor: previewing the fix for ${findingId}`, cancellable: true },
        (progress, token) => {
          const abort = new AbortController();
          token.onCancellationRequested(() => abort.abort());
          return worker.run('whatIf', model.fsPath, options, { signal: abort.signal, onProgress: (p) => progress.report({ message: p.message }) });
        },
      );
      const doc = await vscode.workspace.openTextDocument(summaries.set(vscode.Uri.file(`${model.fsPath}.whatif`), formatWhatIf(result, fmt)));
      await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
      return result;
    } catch (e) {
      fail(e);
      return undefined;
    }
  };

  const openOutline = async (arg?: vscode.Uri): Promise<vscode.TextEditor | undefined> => {
    const uri = arg ?? (await pickModel('Show as Text'));
    if (!uri) return undefined;
    try {
      return await presenter.open(uri);
    } catch (e) {
      fail(e);
      return undefined;
    }
  };

  const reports = new ReportEditorProvider(context.extensionUri, analyses, { mayRun: trustedEnough, openOutline, revealNode: (model, node) => presenter.reveal(model, node), previewFix, exportReport: (model) => exportReport(model), reportError: fail });

  /** Analyses a model in the worker; the report editor, outline and Problems panel follow. */
  const analyze = async (arg?: vscode.Uri): Promise<AnalysisReport | undefined> => {
    const uri = arg ?? (await pickModel('Analyze'));
    if (!uri) return undefined;
    if (!(await trustedEnough(uri))) return undefined;
    try {
      const report = await analyses.analyze(uri, { force: true });
      if (report) {
        await vscode.commands.executeCommand('vscode.openWith', uri, REPORT_VIEW_TYPE, { preview: false });
        const v = report.verdict;
        const top = report.findings.find((f) => f.severity !== 'info');
        void vscode.window.showInformationMessage(`Gradient Doctor: ${path.basename(uri.fsPath)}: ${v?.headline ?? ''}`.slice(0, 400), ...(top ? ['Show in Text'] : [])).then((c) => {
          if (c) void openOutline(uri);
        });
      }
      return report;
    } catch (e) {
      fail(e);
      return undefined;
    }
  };

  const showFix = async (modelArg: string, findingId: string): Promise<void> => {
    const model = vscode.Uri.parse(modelArg);
    const f = presenter.finding(model, findingId);
    if (!f) return;
    const preview = 'Preview Fix (What-If)';
    const choice = await vscode.window.showInformationMessage(`${f.message}`, { modal: true, detail: `Why: ${f.why}\n\nFix: ${f.fix ?? 'no fix computed'}${f.expect ? `\n\nExpected: ${f.expect}` : ''}` }, ...(f.remedies?.length ? [preview] : []));
    if (choice === preview) await previewFix(model, findingId);
  };

  /**
   * Exports a model's report (analysing it first when needed) as HTML, Markdown, SARIF, JSON or a
   * Netron attachment: the format is the one given, else the target's ending, else picked.
   */
  const exportReport = async (arg?: vscode.Uri, target?: unknown, format?: unknown): Promise<vscode.Uri | undefined> => {
    const uri = (arg instanceof vscode.Uri ? arg : undefined) ?? (await pickModel('Export'));
    if (!uri) return undefined;
    try {
      const report = analyses.get(uri)?.report ?? (await analyze(uri));
      if (!report) return undefined;
      const chosen = await exportTarget(['html', 'md', 'sarif', 'json', 'netron'], exportArgs(target, format), (_, suffix) => uri.fsPath.replace(/\.onnx$/i, '') + suffix, `Export the report of ${path.basename(uri.fsPath)}`);
      if (!chosen) return undefined;
      const sources = chosen.format === 'sarif' ? await presenter.sources(uri, report) : undefined;
      await writeText(chosen.dest, reportExport(chosen.format, report, uri, sources));
      log(`exported the report of ${uri.fsPath} as ${chosen.format} to ${chosen.dest.fsPath}`);
      return chosen.dest;
    } catch (e) {
      fail(e);
      return undefined;
    }
  };

  /** Exports a comparison as HTML, Markdown or JSON (beside the candidate model by default). */
  const exportComparison = async (result: ComparisonResult, target?: unknown, format?: unknown): Promise<vscode.Uri | undefined> => {
    try {
      const c = result.comparison;
      const stem = `${c.candidate.path.replace(/\.onnx$/i, '')}-vs-${path.basename(c.base.path).replace(/\.onnx$/i, '')}`;
      const chosen = await exportTarget(['html', 'md', 'json'], exportArgs(target, format), (f) => `${stem}.${f}`, `Export the comparison of ${path.basename(c.candidate.path)} with ${path.basename(c.base.path)}`);
      if (!chosen) return undefined;
      await writeText(chosen.dest, comparisonExport(chosen.format, result));
      log(`exported the comparison as ${chosen.format} to ${chosen.dest.fsPath}`);
      return chosen.dest;
    } catch (e) {
      fail(e);
      return undefined;
    }
  };
  const comparisons = new ComparisonPanels(context.extensionUri, (r) => exportComparison(r));

  const review = new ReviewComments(worker, python);
  let lastReview: ReviewThreadInfo[] = [];

  /** Compares two models (explorer: two selected files; otherwise asks for the second) and shows the comparison as Markdown. */
  const compare = async (clicked?: vscode.Uri, selected?: vscode.Uri[]): Promise<Comparison | undefined> => {
    const picked = selected && selected.length === 2 ? selected : undefined;
    const first = picked?.[0] ?? clicked ?? (await pickModel('Base model'));
    if (!first) return undefined;
    const second = picked?.[1] ?? (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'ONNX models': ['onnx'] }, openLabel: 'Compare with', title: `Compare ${path.basename(first.fsPath)} with` }))?.[0];
    if (!second) return undefined;
    return compareUris(first, second);
  };

  /** Compares a model with its version at a git revision (asks for the revision; HEAD by default). */
  const compareWithRevision = async (arg?: vscode.Uri, ref?: unknown): Promise<Comparison | undefined> => {
    const uri = (arg instanceof vscode.Uri ? arg : undefined) ?? (await pickModel('Compare'));
    if (!uri) return undefined;
    // from the explorer the second argument is the selection, not a revision
    const revision = (typeof ref === 'string' ? ref : undefined) ?? (await vscode.window.showInputBox({ title: `Compare ${path.basename(uri.fsPath)} with its version at`, value: 'HEAD', prompt: 'A git revision: HEAD, a branch, a tag or a commit' }));
    if (!revision) return undefined;
    try {
      return await compareUris(vscode.Uri.file(fileAtRevision(uri.fsPath, revision)), uri);
    } catch (e) {
      fail(e);
      return undefined;
    }
  };

  const compareUris = async (first: vscode.Uri, second: vscode.Uri): Promise<Comparison | undefined> => {
    if (!(await trustedEnough(second)) || !(await trustedEnough(first))) return undefined;
    try {
      const options = { ...readRunOptions(second), compareWith: second.fsPath };
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Gradient Doctor: comparing ${path.basename(first.fsPath)} with ${path.basename(second.fsPath)}`, cancellable: true },
        (progress, token) => {
          const abort = new AbortController();
          token.onCancellationRequested(() => abort.abort());
          return worker.run('compare', first.fsPath, options, { signal: abort.signal, onProgress: (p) => progress.report({ message: p.message }) });
        },
      );
      comparisons.show(result);
      lastReview = await review.annotate(result.comparison, second);
      log(`comparison of ${first.fsPath} and ${second.fsPath}: ${lastReview.length} review threads`);
      return result.comparison;
    } catch (e) {
      fail(e);
      return undefined;
    }
  };

  context.subscriptions.push(
    analyses,
    presenter,
    review,
    comparisons,
    vscode.commands.registerCommand(CommandId.exportComparison, (target?: unknown, format?: unknown) => {
      const shown = comparisons.current();
      if (shown) return exportComparison(shown, target, format);
      void vscode.window.showInformationMessage('Gradient Doctor: no comparison is open. Run Compare Models first.');
      return undefined;
    }),
    vscode.commands.registerCommand(CommandId.compareModels, compare),
    vscode.commands.registerCommand(CommandId.compareWithRevision, compareWithRevision),
    vscode.commands.registerCommand(CommandId.exportReport, exportReport),
    vscode.window.registerCustomEditorProvider(REPORT_VIEW_TYPE, reports, { webviewOptions: { retainContextWhenHidden: false }, supportsMultipleEditorsPerDocument: true }),
    vscode.commands.registerCommand(CommandId.analyzeModel, analyze),
    vscode.commands.registerCommand(CommandId.showOutline, openOutline),
    vscode.commands.registerCommand(CommandId.previewFix, previewFix),
    vscode.commands.registerCommand(CommandId.showFix, showFix),
    vscode.commands.registerCommand(CommandId.cancelAnalysis, (arg?: vscode.Uri) => analyses.cancel(arg)),
    vscode.commands.registerCommand(CommandId.clearAnalysis, async (arg?: vscode.Uri) => {
      const uri = arg ?? (await pickModel('Clear'));
      if (uri) analyses.clear(uri);
    }),
  );

  const inspect = async (arg?: vscode.Uri): Promise<InspectResult | undefined> => {
    const uri = arg ?? (await pickModel('Inspect'));
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
      output.info(`inspected ${uri.fsPath}: ${result.summary.nodeCount} nodes${result.forwardError ? `; the forward pass failed: ${result.forwardError}` : ` on ${result.executionProvider?.used}`}`);
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
  return { inspect, worker, analyses, reports, comparisons, reviewThreads: () => lastReview, onDidReportError: errorReported.event };
}

/** Nothing to tear down beyond the disposables. */
export function deactivate(): void {}

/** The model of the active editor (text or report), else one the user picks. */
async function pickModel(openLabel: string): Promise<vscode.Uri | undefined> {
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const active = tab instanceof vscode.TabInputCustom || tab instanceof vscode.TabInputText ? tab.uri : vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file' && active.path.endsWith('.onnx')) return active;
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'ONNX models': ['onnx'] }, openLabel });
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
