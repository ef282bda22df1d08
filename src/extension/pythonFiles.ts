import * as vscode from 'vscode';

/** Python files read for module definitions, at most. */
const MAX_PYTHON_FILES = 2000;
const EXCLUDE = '{**/node_modules/**,**/.venv/**,**/venv/**,**/site-packages/**,**/.git/**}';

export interface PythonFile {
  path: string;
  text: string;
}

/**
 * The workspace's Python files, read once and kept current by a file watcher, so that placing the
 * findings of each analysis on Python lines does not read every file again. Saved edits reach it
 * through the watcher; unsaved ones are not seen (the files on disk are what defines the model).
 */
export class PythonFiles implements vscode.Disposable {
  private files: Promise<Map<string, string>> | undefined;
  private readonly watcher = vscode.workspace.createFileSystemWatcher('**/*.py');
  private readonly decoder = new TextDecoder();

  constructor() {
    const reread = (uri: vscode.Uri) => void this.update(uri);
    this.watcher.onDidCreate(reread);
    this.watcher.onDidChange(reread);
    this.watcher.onDidDelete((uri) => void this.files?.then((m) => m.delete(uri.fsPath)));
  }

  /** Every file (at most 2000), with its text. */
  async all(): Promise<PythonFile[]> {
    this.files ??= this.load();
    return [...(await this.files)].map(([path, text]) => ({ path, text }));
  }

  dispose(): void {
    this.watcher.dispose();
  }

  private async load(): Promise<Map<string, string>> {
    const uris = await vscode.workspace.findFiles('**/*.py', EXCLUDE, MAX_PYTHON_FILES);
    const texts = await Promise.all(uris.map(async (u) => [u.fsPath, await this.read(u)] as const));
    return new Map(texts.filter((t): t is readonly [string, string] => t[1] !== undefined));
  }

  private async update(uri: vscode.Uri): Promise<void> {
    if (!this.files) return;
    const files = await this.files;
    if (!files.has(uri.fsPath) && (files.size >= MAX_PYTHON_FILES || !vscode.workspace.getWorkspaceFolder(uri) || /[\\/](node_modules|\.venv|venv|site-packages|\.git)[\\/]/.test(uri.fsPath))) return;
    const text = await this.read(uri);
    if (text === undefined) files.delete(uri.fsPath);
    else files.set(uri.fsPath, text);
  }

  private async read(uri: vscode.Uri): Promise<string | undefined> {
    try {
      return this.decoder.decode(await vscode.workspace.fs.readFile(uri));
    } catch {
      return undefined;
    }
  }
}
