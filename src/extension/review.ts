import * as vscode from 'vscode';
import type { Finding } from '../core/report/types';
import type { Comparison } from '../core/review/compare';
import type { WorkerClient } from '../runtime/workerClient';
import { sourceMatches } from './findings';
import type { PythonFiles } from './pythonFiles';

/** A review thread as tests and the log see it. */
export interface ReviewThreadInfo {
  file: string;
  /** 0-based line. */
  line: number;
  label: string;
  body: string;
}

/**
 * Review annotations: after a comparison, the findings the candidate introduces (and those it
 * resolves) become comment threads on the Python lines that define the layers they are about, as
 * code review tools do, so the reviewer can discuss them in place (replies go into the thread).
 */
export class ReviewComments implements vscode.Disposable {
  private readonly controller = vscode.comments.createCommentController('gradient-doctor-review', 'Gradient Doctor review');
  private threads: vscode.CommentThread[] = [];
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly worker: WorkerClient,
    private readonly python: PythonFiles,
  ) {
    this.controller.options = { prompt: 'Reply to Gradient Doctor…', placeHolder: 'Discuss this finding' };
    this.subscriptions.push(
      this.controller,
      vscode.commands.registerCommand('gradientDoctor.reviewReply', (reply: vscode.CommentReply) => this.reply(reply)),
    );
  }

  /** Replaces the review threads with those of this comparison; returns where they went. */
  async annotate(comparison: Comparison, candidate: vscode.Uri): Promise<ReviewThreadInfo[]> {
    this.clear();
    const python = await this.python.all();
    if (python.length === 0) return [];
    const outline = await this.worker.run('outline', candidate.fsPath, {});
    const byLine = new Map<string, { uri: vscode.Uri; line: number; items: Array<{ f: Finding; kind: 'introduced' | 'resolved' }> }>();
    const nodeOf = (f: Finding, side: 'base' | 'candidate') => {
      if (f.node) return f.node;
      const pair = comparison.layers.find((p) => (side === 'candidate' ? p.candidate?.name : p.base?.name) === f.layer);
      return (pair?.candidate ?? pair?.base)?.nodes[0];
    };
    const add = (f: Finding, kind: 'introduced' | 'resolved') => {
      if (f.severity === 'info') return;
      const node = nodeOf(f, kind === 'introduced' ? 'candidate' : 'base');
      if (!node) return;
      for (const m of sourceMatches(node, outline, python)) {
        const key = `${m.file}:${m.line}`;
        const entry = byLine.get(key) ?? { uri: vscode.Uri.file(m.file), line: m.line - 1, items: [] };
        entry.items.push({ f, kind });
        byLine.set(key, entry);
      }
    };
    for (const f of comparison.introduced) add(f, 'introduced');
    for (const f of comparison.resolved) add(f, 'resolved');
    const info: ReviewThreadInfo[] = [];
    for (const { uri, line, items } of byLine.values()) {
      const introduced = items.filter((i) => i.kind === 'introduced').length;
      const label = `Gradient Doctor: ${introduced} introduced, ${items.length - introduced} resolved`;
      const body = items.map(({ f, kind }) => `**${kind === 'introduced' ? 'Introduced' : 'Resolved'} ${f.severity} \`${f.rule}\`**${f.layer ? ` on \`${f.layer}\`` : ''}: ${f.message}${kind === 'introduced' && f.fix ? `\n\n*Fix:* ${f.fix}` : ''}`).join('\n\n---\n\n');
      const thread = this.controller.createCommentThread(uri, new vscode.Range(line, 0, line, 0), [{
        body: new vscode.MarkdownString(body),
        mode: vscode.CommentMode.Preview,
        author: { name: 'Gradient Doctor' },
      }]);
      thread.label = label;
      thread.canReply = true;
      thread.collapsibleState = introduced ? vscode.CommentThreadCollapsibleState.Expanded : vscode.CommentThreadCollapsibleState.Collapsed;
      thread.state = introduced ? vscode.CommentThreadState.Unresolved : vscode.CommentThreadState.Resolved;
      this.threads.push(thread);
      info.push({ file: uri.fsPath, line, label, body });
    }
    return info;
  }

  clear(): void {
    for (const t of this.threads) t.dispose();
    this.threads = [];
  }

  dispose(): void {
    this.clear();
    for (const s of this.subscriptions) s.dispose();
  }

  private reply(reply: vscode.CommentReply): void {
    reply.thread.comments = [...reply.thread.comments, { body: new vscode.MarkdownString(reply.text), mode: vscode.CommentMode.Preview, author: { name: 'You' } }];
  }
}
