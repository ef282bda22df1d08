import * as vscode from 'vscode';

/** The URI scheme of read-only model summary documents. */
export const SUMMARY_SCHEME = 'gradient-doctor-summary';

/** Serves read-only text documents whose content the extension sets (model summaries). */
export class SummaryDocuments implements vscode.TextDocumentContentProvider {
  private readonly contents = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  /** Shows `text` as the summary of `model` and returns the document's URI. */
  set(model: vscode.Uri, text: string): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: SUMMARY_SCHEME, path: `${model.path}.summary.txt`, query: model.toString() });
    this.contents.set(uri.toString(), text);
    this.changed.fire(uri);
    return uri;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? 'No summary: run "Gradient Doctor: Inspect Model" again.';
  }

  dispose(): void {
    this.changed.dispose();
  }
}
