import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DoctorError, isDoctorError } from '../core/errors';
import type { AnalysisReport } from '../core/report/types';
import type { WorkerClient } from '../runtime/workerClient';
import { readEditorSettings, readRunOptions } from './config';

/** One model's analysis as the editor knows it. */
export interface ModelAnalysis {
  uri: vscode.Uri;
  report: AnalysisReport;
  /** Set when the file changed on disk after the analysis. */
  stale: boolean;
  /**
   * True while the analysis that made this report still runs: the report is its figures so far
   * (report.run.phase says which). A partial report whose run ended was cancelled: it stays, as
   * what was done.
   */
  refining?: boolean;
}

/** Seconds per megabyte of weights for a full analysis on a 2-core CPU (resnet18: ~200 s for 45 MB). */
const SECONDS_PER_MB = 4.5;

/**
 * Runs analyses in the worker and keeps their results: cached per model content hash and settings
 * (reopening a model is instant), one run per model at a time (a second request joins the first),
 * runs of different models queued one after another, a progress notification with Cancel, and a
 * status-bar item while one runs. Changed models are marked stale, deleted ones forgotten.
 */
export class AnalysisManager implements vscode.Disposable {
  private readonly cache = new Map<string, AnalysisReport>();
  private readonly latest = new Map<string, ModelAnalysis>();
  private readonly inFlight = new Map<string, Promise<AnalysisReport | undefined>>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly running = new Map<string, AbortController>();
  private readonly status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);
  private readonly changed = new vscode.EventEmitter<ModelAnalysis>();
  private readonly cleared = new vscode.EventEmitter<vscode.Uri>();
  private readonly watcher = vscode.workspace.createFileSystemWatcher('**/*.onnx');
  /** Fires when a model's analysis lands or goes stale. */
  readonly onDidChange = this.changed.event;
  /** Fires when a model's analysis is cleared (command, or the file was deleted). */
  readonly onDidClear = this.cleared.event;

  constructor(
    private readonly worker: WorkerClient,
    private readonly log: (line: string) => void,
  ) {
    this.status.name = 'Gradient Doctor';
    this.watcher.onDidChange((uri) => this.markStale(uri));
    this.watcher.onDidCreate((uri) => this.markStale(uri));
    this.watcher.onDidDelete((uri) => this.clear(uri));
  }

  /** The last analysis of a model, if any. */
  get(uri: vscode.Uri): ModelAnalysis | undefined {
    return this.latest.get(uri.toString());
  }

  /** Every model with an analysis. */
  all(): ModelAnalysis[] {
    return [...this.latest.values()];
  }

  /**
   * Analyses a model (or returns the cached result for the same content and settings). Resolves
   * undefined when the user cancels or declines; rejects with the engine's error.
   */
  async analyze(uri: vscode.Uri, opts: { force?: boolean; confirmLarge?: boolean } = {}): Promise<AnalysisReport | undefined> {
    const options = this.options(uri);
    const key = `${await hashFile(uri.fsPath)}:${JSON.stringify(options)}`;
    const cached = this.cache.get(key);
    if (cached && !opts.force) {
      this.remember(uri, cached);
      return cached;
    }
    const running = this.inFlight.get(key);
    if (running) return running;
    if (opts.confirmLarge !== false && !(await this.confirmSize(uri))) return undefined;
    const abort = new AbortController();
    this.running.set(uri.toString(), abort);
    this.busyChanged();
    const run = this.enqueue(() => (abort.signal.aborted ? Promise.resolve(undefined) : this.run(uri, options, abort))).then((report) => {
      if (report) {
        this.cache.set(key, report);
        this.remember(uri, report);
      }
      return report;
    }).finally(() => {
      this.inFlight.delete(key);
      if (this.running.get(uri.toString()) === abort) this.running.delete(uri.toString());
      this.busyChanged();
    });
    this.inFlight.set(key, run);
    return run;
  }

  /** Stops the running or queued analyses (of one model, or all); they resolve undefined. */
  cancel(uri?: vscode.Uri): void {
    for (const [key, abort] of this.running) if (!uri || key === uri.toString()) abort.abort();
  }

  /** True while an analysis of this model (or of any) runs or waits. */
  isBusy(uri?: vscode.Uri): boolean {
    return uri ? this.running.has(uri.toString()) : this.running.size > 0;
  }

  /** Forgets a model's analysis (its diagnostics go with it). */
  clear(uri: vscode.Uri): void {
    if (this.latest.delete(uri.toString())) this.cleared.fire(uri);
  }

  dispose(): void {
    this.status.dispose();
    this.changed.dispose();
    this.cleared.dispose();
    this.watcher.dispose();
  }

  private options(uri: vscode.Uri) {
    return readRunOptions(uri);
  }

  private remember(uri: vscode.Uri, report: AnalysisReport, refining = false): void {
    const entry = { uri, report, stale: false, refining };
    this.latest.set(uri.toString(), entry);
    this.changed.fire(entry);
  }

  private markStale(uri: vscode.Uri): void {
    const entry = this.latest.get(uri.toString());
    if (!entry || entry.stale) return;
    entry.stale = true;
    this.log(`${uri.fsPath} changed on disk: its analysis is stale`);
    this.changed.fire(entry);
  }

  /** The context key that enables Cancel Analysis. */
  private busyChanged(): void {
    void vscode.commands.executeCommand('setContext', 'gradientDoctor.busy', this.running.size > 0);
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async run(uri: vscode.Uri, options: ReturnType<AnalysisManager['options']>, abort: AbortController): Promise<AnalysisReport | undefined> {
    const name = path.basename(uri.fsPath);
    this.log(`analyze ${uri.fsPath}`);
    this.status.text = `$(sync~spin) Gradient Doctor: ${name}`;
    this.status.command = { title: 'Cancel', command: 'gradientDoctor.cancelAnalysis', arguments: [uri] };
    this.status.tooltip = `Analysing ${uri.fsPath}: click to cancel`;
    this.status.show();
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Gradient Doctor: ${name}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => abort.abort());
          let last = 0;
          const report = await this.worker.run('analyze', uri.fsPath, options, {
            signal: abort.signal,
            onProgress: (p) => {
              const pct = Math.round((p.fraction ?? 0) * 100);
              progress.report({ message: p.message, increment: Math.max(0, pct - last) });
              last = Math.max(last, pct);
              this.status.text = `$(sync~spin) Gradient Doctor: ${name} ${pct}%`;
            },
            onPartial: (partial) => {
              if (!abort.signal.aborted) this.remember(uri, partial, true);
            },
          });
          this.log(`analyzed ${uri.fsPath}: ${report.verdict?.status ?? '?'}, ${report.findings.length} findings, ${(report.run.durationMs / 1000).toFixed(1)} s on ${report.run.executionProvider}`);
          return report;
        },
      );
    } catch (e) {
      if (isDoctorError(e) && e.kind === 'cancelled') {
        this.log(`analysis of ${uri.fsPath} cancelled`);
        // the figures so far stay, marked as what a cancelled analysis had done
        const partial = this.latest.get(uri.toString());
        if (partial?.refining) this.remember(uri, partial.report, false);
        return undefined;
      }
      throw e;
    } finally {
      this.status.hide();
    }
  }

  private async confirmSize(uri: vscode.Uri): Promise<boolean> {
    const limit = readEditorSettings(uri).largeModelWarningMB;
    let mb: number;
    try {
      mb = statSync(uri.fsPath).size / 2 ** 20;
    } catch (e) {
      throw new DoctorError('bad-input', `cannot read the file (${(e as Error).message})`, uri.fsPath);
    }
    if (limit <= 0 || mb <= limit) return true;
    const go = 'Analyze';
    const minutes = Math.max(1, Math.round((mb * SECONDS_PER_MB) / 60));
    const answer = await vscode.window.showWarningMessage(
      `${path.basename(uri.fsPath)} is ${mb.toFixed(0)} MB. A full analysis takes roughly ${minutes} minute${minutes > 1 ? 's' : ''} on a 2-core CPU (an estimate from the benchmark; fewer on CUDA). Analyze it?`,
      { modal: true },
      go,
    );
    return answer === go;
  }
}

/** sha256 of a file, streamed (the extension host's thread never holds a large model at once). */
function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => h.update(chunk))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', (e) => reject(new DoctorError('bad-input', `cannot read the file (${e.message})`, file)));
  });
}
