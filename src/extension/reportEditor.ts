import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { WhatIfResult } from '../core/diagnosis/whatIf';
import { errorMessage, isDoctorError } from '../core/errors';
import { htmlPage } from '../core/report/html';
import { parseWebviewMessage, type HostToWebview } from '../protocol/webview';
import type { AnalysisManager } from './analysisManager';
import { readEditorSettings } from './config';

export const REPORT_VIEW_TYPE = 'gradientDoctor.report';

/** What the report editor asks of the rest of the extension. */
export interface ReportEditorHost {
  /** Asks before running a model from an untrusted folder. */
  mayRun(model: vscode.Uri): Promise<boolean>;
  openOutline(model: vscode.Uri): Promise<unknown>;
  revealNode(model: vscode.Uri, node: string): Promise<unknown>;
  previewFix(model: vscode.Uri, findingId: string): Promise<WhatIfResult | undefined>;
  exportReport(model: vscode.Uri): Promise<unknown>;
  reportError(e: unknown): void;
}

/**
 * The custom read-only editor for .onnx files: opening a model shows its report instead of
 * "binary file". It analyses on open (setting gradientDoctor.analyzeOnOpen), shows the cached
 * analysis when there is one, and follows re-analyses and staleness. "Reopen With" offers the text
 * editor; the toolbar and the report offer the model as text.
 */
export class ReportEditorProvider implements vscode.CustomReadonlyEditorProvider {
  /** The last message posted to each open report, by model URI (for tests and diagnostics). */
  readonly posted = new Map<string, HostToWebview['type']>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly manager: AnalysisManager,
    private readonly host: ReportEditorHost,
  ) {}

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    const uri = document.uri;
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')] };
    webview.html = webviewHtml(webview, this.extensionUri);
    const post = (msg: HostToWebview) => {
      this.posted.set(uri.toString(), msg.type);
      void webview.postMessage(msg);
    };
    const analyze = async (force: boolean) => {
      if (!(await this.host.mayRun(uri))) {
        post({ type: 'status', message: 'Not analysed: this folder is not trusted.', busy: false });
        return;
      }
      post({ type: 'status', message: `Analysing ${uri.path.split('/').pop()}…`, busy: true });
      try {
        const report = await this.manager.analyze(uri, { force });
        // a cancelled analysis that had reported figures keeps them on screen (the manager re-posts them as partial)
        if (!report && !this.manager.get(uri)?.report.run.phase) post({ type: 'status', message: 'Analysis cancelled.', busy: false });
      } catch (e) {
        post({ type: 'error', message: errorMessage(e) });
        if (!(isDoctorError(e) && e.kind === 'cancelled')) this.host.reportError(e);
      }
    };
    const subscriptions = [
      this.manager.onDidChange((a) => {
        if (a.uri.toString() === uri.toString()) post({ type: 'report', report: a.report, stale: a.stale, refining: a.refining });
      }),
      this.manager.onDidClear((cleared) => {
        if (cleared.toString() === uri.toString()) post({ type: 'status', message: 'No analysis: run Analyze.', busy: false });
      }),
      webview.onDidReceiveMessage((raw: unknown) => {
        const msg = parseWebviewMessage(raw);
        if (!msg) return;
        switch (msg.type) {
          case 'ready': {
            const known = this.manager.get(uri);
            if (known) post({ type: 'report', report: known.report, stale: known.stale, refining: known.refining });
            else if (readEditorSettings(uri).analyzeOnOpen) void analyze(false);
            else post({ type: 'status', message: 'Not analysed yet.', busy: false });
            break;
          }
          case 'analyze':
            void analyze(true);
            break;
          case 'openOutline':
            void this.host.openOutline(uri).catch((e) => this.host.reportError(e));
            break;
          case 'previewFix':
            void this.host.previewFix(uri, msg.findingId).then((result) => {
              if (result) post({ type: 'whatIf', result });
            }, (e) => this.host.reportError(e));
            break;
          case 'revealNode':
            void this.host.revealNode(uri, msg.node).catch((e) => this.host.reportError(e));
            break;
          case 'export':
            void this.host.exportReport(uri).catch((e) => this.host.reportError(e));
            break;
        }
      }),
    ];
    panel.onDidDispose(() => {
      this.posted.delete(uri.toString());
      for (const s of subscriptions) s.dispose();
    });
  }
}

/** The webview app's page: its bundle and stylesheets from the extension, a nonce-only script policy. */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const nonce = randomBytes(16).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js'));
  const css = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'report.css'));
  const codicons = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'codicons.css'));
  return htmlPage({
    csp: `default-src 'none'; img-src ${webview.cspSource} data:; style-src ${webview.cspSource}; script-src 'nonce-${nonce}'; font-src ${webview.cspSource} data:`,
    head: `<link rel="stylesheet" href="${codicons.toString()}">\n<link rel="stylesheet" href="${css.toString()}">`,
    body: `<main id="app"><p class="status busy">Loading…</p></main>\n<script nonce="${nonce}" src="${script.toString()}"></script>`,
  });
}
