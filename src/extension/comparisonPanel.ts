import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ComparisonResult } from '../core/review/compare';
import { parseWebviewMessage, type HostToWebview } from '../protocol/webview';
import { webviewHtml } from './reportEditor';

export const COMPARISON_VIEW_TYPE = 'gradientDoctor.comparison';

/**
 * Comparisons in webview panels: the verdicts, the two gradient flows overlaid, the layers side by
 * side and the findings introduced and resolved (the same view as `compare --format html`), with
 * an Export button (HTML, Markdown, JSON).
 */
export class ComparisonPanels implements vscode.Disposable {
  /** The comparison each open panel received last (for tests and diagnostics), by panel title. */
  readonly posted = new Map<string, ComparisonResult>();
  private readonly panels = new Map<vscode.WebviewPanel, ComparisonResult>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly exportComparison: (result: ComparisonResult) => Promise<unknown>,
  ) {}

  show(result: ComparisonResult): vscode.WebviewPanel {
    const c = result.comparison;
    const title = `${path.basename(c.candidate.path)} ↔ ${path.basename(c.base.path)}`;
    const panel = vscode.window.createWebviewPanel(COMPARISON_VIEW_TYPE, title, vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')],
    });
    panel.webview.html = webviewHtml(panel.webview, this.extensionUri);
    this.panels.set(panel, result);
    const post = (msg: HostToWebview) => void panel.webview.postMessage(msg);
    const sub = panel.webview.onDidReceiveMessage((raw: unknown) => {
      const msg = parseWebviewMessage(raw);
      if (msg?.type === 'ready') {
        post({ type: 'comparison', comparison: c });
        this.posted.set(title, result);
      } else if (msg?.type === 'export') void this.exportComparison(result);
    });
    panel.onDidDispose(() => {
      sub.dispose();
      this.panels.delete(panel);
      this.posted.delete(title);
    });
    return panel;
  }

  /** The comparison of the active panel, else of the one opened last. */
  current(): ComparisonResult | undefined {
    const all = [...this.panels];
    return (all.find(([p]) => p.active) ?? all.at(-1))?.[1];
  }

  dispose(): void {
    for (const p of [...this.panels.keys()]) p.dispose();
  }
}
