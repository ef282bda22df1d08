import * as vscode from 'vscode';
import { findMember, firstSentence, memberFindings } from '../core/diagnosis/group';
import { fmt, formatFigure, jacobianFigure, kindText, rankText, type JacobianFigureName } from '../core/report/figures';
import type { AnalysisReport, Finding, LayerReport } from '../core/report/types';
import { findingNode, locateNode, type SourceMatch } from '../core/sourceMap';
import type { OutlineResult } from '../protocol/worker';
import type { WorkerClient } from '../runtime/workerClient';
import type { AnalysisManager, ModelAnalysis } from './analysisManager';
import { CommandId } from './commands';
import type { PythonFiles } from './pythonFiles';

export const OUTLINE_SCHEME = 'gradient-doctor-outline';

const SEVERITY = { error: vscode.DiagnosticSeverity.Error, warning: vscode.DiagnosticSeverity.Warning, info: vscode.DiagnosticSeverity.Information } as const;
const MARK = { error: '$(error)', warning: '$(warning)', info: '$(info)' } as const;

/** What the editor knows of one model: its outline and, once analysed, the findings placed on it. */
interface ModelView {
  model: vscode.Uri;
  outline: OutlineResult;
  analysis?: ModelAnalysis;
  /** Outline line -> node name. */
  nodeAt: Map<number, string>;
}

/** Where a diagnostic came from, for code actions. */
interface DiagnosticOrigin {
  model: vscode.Uri;
  finding: Finding;
}

/**
 * Shows analyses where people read code: a read-only text outline of each model (ONNX text
 * syntax, one line per node) with the findings as diagnostics on their nodes' lines (a grouped
 * finding once, on its first member's line, with every member's line as related information),
 * hovers with the layer's figures and what each finding says of that layer, CodeLens above flagged
 * layers and "Preview fix" code actions; and the same findings on the Python lines that define the
 * layers (exporter stack traces, else module names).
 */
export class FindingsPresenter implements vscode.TextDocumentContentProvider, vscode.HoverProvider, vscode.CodeLensProvider, vscode.CodeActionProvider, vscode.Disposable {
  private readonly views = new Map<string, ModelView>();
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('gradient-doctor');
  private readonly origins = new Map<string, DiagnosticOrigin>();
  /** Python diagnostics by model, so one model's can be cleared without touching another's. */
  private readonly pythonByModel = new Map<string, Map<string, vscode.Diagnostic[]>>();
  private readonly contentChanged = new vscode.EventEmitter<vscode.Uri>();
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  private readonly subscriptions: vscode.Disposable[] = [];
  readonly onDidChange = this.contentChanged.event;
  readonly onDidChangeCodeLenses = this.lensesChanged.event;

  constructor(
    private readonly worker: WorkerClient,
    private readonly manager: AnalysisManager,
    private readonly log: (line: string) => void,
    private readonly python: PythonFiles,
  ) {
    const selector = [{ scheme: OUTLINE_SCHEME }];
    this.subscriptions.push(
      this.diagnostics,
      this.contentChanged,
      this.lensesChanged,
      vscode.workspace.registerTextDocumentContentProvider(OUTLINE_SCHEME, this),
      vscode.languages.registerHoverProvider(selector, this),
      vscode.languages.registerCodeLensProvider(selector, this),
      vscode.languages.registerCodeActionsProvider([...selector, { language: 'python' }], this, { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] }),
      manager.onDidChange((a) => void this.show(a).catch((e) => this.log(`placing findings failed: ${(e as Error).message}`))),
      manager.onDidClear((uri) => this.clear(uri)),
    );
  }

  /** The outline document's URI for a model. */
  static outlineUri(model: vscode.Uri): vscode.Uri {
    return vscode.Uri.from({ scheme: OUTLINE_SCHEME, path: `${model.path}.txt`, query: model.scheme === 'file' ? '' : model.scheme });
  }

  /** Opens the model's outline, building it first when needed. */
  async open(model: vscode.Uri): Promise<vscode.TextEditor> {
    if (!this.views.has(model.toString())) await this.build(model, this.manager.get(model));
    const doc = await vscode.workspace.openTextDocument(FindingsPresenter.outlineUri(model));
    return vscode.window.showTextDocument(doc, { preview: false });
  }

  /** Opens the outline at a node's line. */
  async reveal(model: vscode.Uri, node: string): Promise<vscode.TextEditor> {
    const editor = await this.open(model);
    const line = this.views.get(model.toString())?.outline.nodeLines[node];
    if (line !== undefined) {
      const range = new vscode.Range(line, 0, line, 0);
      editor.selection = new vscode.Selection(range.start, range.start);
      editor.revealRange(range, vscode.TextEditorRevealType.InCenter);
    }
    return editor;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.viewOf(uri)?.outline.text ?? '# Gradient Doctor: run "Show Model as Text" on the .onnx file to build this outline.\n';
  }

  provideHover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | undefined {
    const view = this.viewOf(doc.uri);
    const node = view?.nodeAt.get(pos.line);
    if (!view || !node) return undefined;
    const report = view.analysis?.report;
    const layer = report?.layers.find((l) => l.nodes.includes(node));
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: [CommandId.previewFix] };
    if (!report) {
      md.appendMarkdown(`**${node}**\n\nNot analysed yet: run *Gradient Doctor: Analyze Model*.`);
      return new vscode.Hover(md);
    }
    if (!layer) {
      md.appendMarkdown(`**${node}** is not part of a probed layer.`);
      return new vscode.Hover(md);
    }
    md.appendMarkdown(`**${layer.name}** · ${layer.opTypes.join(' + ')} · layer ${layer.index + 1} of ${report.layers.length}${view.analysis?.stale ? ' · *stale: the model changed*' : ''}\n\n`);
    md.appendMarkdown(figuresTable(layer));
    for (const { finding: f, group } of findingsOfLayer(report, layer)) {
      md.appendMarkdown(`\n\n${MARK[f.severity]} **${f.rule}**: ${escapeMd(f.message)}`);
      if (group) md.appendMarkdown(`\n\n*One of ${group.members!.length}:* ${escapeMd(firstSentence(group.message))}`);
      if (f.fix) md.appendMarkdown(`\n\n*Fix:* ${escapeMd(f.fix)}`);
      const preview = (id: string, label: string) => `[${label}](command:${CommandId.previewFix}?${encodeURIComponent(JSON.stringify([view.model.toString(), id]))})`;
      const links = [...(f.remedies?.length ? [preview(f.id, group ? 'Preview this layer\'s fix (what-if)' : 'Preview fix (what-if)')] : []), ...(group?.remedies?.length ? [preview(group.id, `Preview the fix of all ${group.members!.length}`)] : [])];
      if (links.length) md.appendMarkdown(`\n\n${links.join(' · ')}`);
    }
    return new vscode.Hover(md);
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const view = this.viewOf(doc.uri);
    const report = view?.analysis?.report;
    if (!view || !report || view.analysis?.stale) return [];
    const lenses: vscode.CodeLens[] = [];
    for (const layer of report.layers) {
      const flagged = findingsOfLayer(report, layer).map((x) => x.finding).filter((f) => f.severity !== 'info');
      const line = view.outline.nodeLines[layer.nodes[0]];
      if (flagged.length === 0 || line === undefined) continue;
      const top = flagged[0];
      const figure = layer.jacobian.sigmaMax !== null ? `σmax ${formatFigure(jacobianFigure(layer.jacobian, 'sigmaMax'))} · ` : '';
      const more = flagged.length > 1 ? ` (+${flagged.length - 1})` : '';
      lenses.push(new vscode.CodeLens(new vscode.Range(line, 0, line, 0), {
        title: `${figure}${top.rule}${more} · Show fix`,
        command: CommandId.showFix,
        arguments: [view.model.toString(), top.id],
      }));
    }
    return lenses;
  }

  provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    for (const d of context.diagnostics) {
      const origin = this.origins.get(originKey(doc.uri, d.range.start.line, d.message));
      if (!origin?.finding.remedies?.length) continue;
      const action = new vscode.CodeAction(`Preview fix (what-if): ${origin.finding.rule}`, vscode.CodeActionKind.QuickFix);
      action.command = { title: 'Preview fix', command: CommandId.previewFix, arguments: [origin.model.toString(), origin.finding.id] };
      action.diagnostics = [d];
      actions.push(action);
    }
    return actions;
  }

  /** Where each finding of a report is in the workspace's Python files (for SARIF): by finding id, the first match. */
  async sources(model: vscode.Uri, report: AnalysisReport): Promise<Map<string, SourceMatch>> {
    const view = this.views.get(model.toString()) ?? (await this.build(model, this.manager.get(model)));
    const python = await this.python.all();
    const out = new Map<string, SourceMatch>();
    for (const group of report.findings) {
      for (const [i, f] of memberFindings(group).entries()) {
        const node = findingNode(report, f);
        const match = node !== undefined ? sourceMatches(node, view.outline, python)[0] : undefined;
        if (!match) continue;
        out.set(f.id, match);
        if (i === 0) out.set(group.id, match);
      }
    }
    return out;
  }

  /** The finding with this id in a model's latest analysis: a finding, or a grouped finding's member as a finding of its own. */
  finding(model: vscode.Uri, id: string): Finding | undefined {
    const hit = findMember(this.manager.get(model)?.report.findings ?? [], id);
    return hit && (hit.member ? memberFindings(hit.finding).find((m) => m.id === id) : hit.finding);
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }

  private viewOf(outline: vscode.Uri): ModelView | undefined {
    for (const v of this.views.values()) if (FindingsPresenter.outlineUri(v.model).toString() === outline.toString()) return v;
    return undefined;
  }

  private async build(model: vscode.Uri, analysis: ModelAnalysis | undefined): Promise<ModelView> {
    const layers = analysis?.report.layers.map((l) => ({ index: l.index, name: l.name, opTypes: l.opTypes, nodes: l.nodes })) ?? [];
    const outline = await this.worker.run('outline', model.fsPath, { outlineLayers: layers });
    const nodeAt = new Map(Object.entries(outline.nodeLines).map(([name, line]) => [line, name]));
    const view = { model, outline, analysis, nodeAt };
    this.views.set(model.toString(), view);
    this.contentChanged.fire(FindingsPresenter.outlineUri(model));
    return view;
  }

  private async show(analysis: ModelAnalysis): Promise<void> {
    const model = analysis.uri;
    this.clearDiagnostics(model);
    if (analysis.stale) {
      const view = this.views.get(model.toString());
      if (view) view.analysis = analysis;
      this.lensesChanged.fire();
      return;
    }
    const view = await this.build(model, analysis);
    const report = analysis.report;
    const outlineUri = FindingsPresenter.outlineUri(model);
    const onOutline: vscode.Diagnostic[] = [];
    const placed = new Map<string, vscode.Diagnostic[]>();
    const python = report.findings.some((f) => f.severity !== 'info') ? await this.python.all() : [];
    const lineOf = (node: string | undefined) => (node !== undefined ? view.outline.nodeLines[node] : undefined) ?? view.outline.signatureLine;
    const textOf = (file: string) => python.find((p) => p.path === file)?.text ?? '';
    for (const f of report.findings) {
      // a group: one diagnostic where its first member is, every member's line reachable from it
      const members = memberFindings(f).map((m) => ({ m, node: findingNode(report, m) }));
      const line = lineOf(members[0].node);
      const d = this.diagnostic(outlineUri, line, lineLength(view.outline.text, line), f, model, f.message);
      if (f.members) d.relatedInformation = members.map(({ m, node }) => related(outlineUri, lineOf(node), view.outline.text, m.message));
      onOutline.push(d);
      if (f.severity === 'info') continue;
      const matched = members.filter((x) => x.node !== undefined).map((x) => ({ ...x, matches: sourceMatches(x.node!, view.outline, python) })).filter((x) => x.matches.length);
      if (!matched.length) continue;
      const { node, matches } = matched[0];
      for (const m of matches) {
        const file = vscode.Uri.file(m.file);
        const note = m.how === 'module' ? ` [Gradient Doctor: best-effort match of module '${m.what}' in ${model.path.split('/').pop()}]` : ` [Gradient Doctor: ${model.path.split('/').pop()}, node ${node}]`;
        const list = placed.get(file.toString()) ?? [];
        const p = this.diagnostic(file, m.line - 1, lineLength(textOf(m.file), m.line - 1), f, model, f.message + note);
        if (f.members) p.relatedInformation = matched.map((x) => related(vscode.Uri.file(x.matches[0].file), x.matches[0].line - 1, textOf(x.matches[0].file), `${x.m.message} [node ${x.node}]`));
        list.push(p);
        placed.set(file.toString(), list);
      }
    }
    this.diagnostics.set(outlineUri, onOutline);
    for (const [file, list] of placed) this.setPython(model, vscode.Uri.parse(file), list);
    this.lensesChanged.fire();
  }

  private diagnostic(uri: vscode.Uri, line: number, length: number, f: Finding, model: vscode.Uri, message: string): vscode.Diagnostic {
    const d = new vscode.Diagnostic(new vscode.Range(line, 0, line, length), f.fix ? `${message}\nFix: ${f.fix}` : message, SEVERITY[f.severity]);
    d.source = 'Gradient Doctor';
    d.code = f.rule;
    this.origins.set(originKey(uri, line, d.message), { model, finding: f });
    return d;
  }

  private setPython(model: vscode.Uri, file: vscode.Uri, list: vscode.Diagnostic[]): void {
    const mine = this.pythonByModel.get(model.toString()) ?? new Map<string, vscode.Diagnostic[]>();
    mine.set(file.toString(), list);
    this.pythonByModel.set(model.toString(), mine);
    this.refreshPython(file);
  }

  /** A Python file's diagnostics are the union over models. */
  private refreshPython(file: vscode.Uri): void {
    const all = [...this.pythonByModel.values()].flatMap((m) => m.get(file.toString()) ?? []);
    this.diagnostics.set(file, all);
  }

  private clearDiagnostics(model: vscode.Uri): void {
    this.diagnostics.delete(FindingsPresenter.outlineUri(model));
    const mine = this.pythonByModel.get(model.toString());
    this.pythonByModel.delete(model.toString());
    for (const file of mine?.keys() ?? []) this.refreshPython(vscode.Uri.parse(file));
  }

  private clear(model: vscode.Uri): void {
    this.clearDiagnostics(model);
    const view = this.views.get(model.toString());
    if (view) view.analysis = undefined;
    this.lensesChanged.fire();
  }
}

function originKey(uri: vscode.Uri, line: number, message: string): string {
  return `${uri.toString()}|${line}|${message}`;
}

/** Where a grouped finding's member is, for a diagnostic's related information. */
function related(uri: vscode.Uri, line: number, text: string, message: string): vscode.DiagnosticRelatedInformation {
  return new vscode.DiagnosticRelatedInformation(new vscode.Location(uri, new vscode.Range(line, 0, line, lineLength(text, line))), message);
}

/** The findings on a layer: those about it alone, and a group's member on it as a finding of its own, with its group. */
function findingsOfLayer(report: AnalysisReport, layer: LayerReport): Array<{ finding: Finding; group?: Finding }> {
  const on = (f: Finding) => f.layer === layer.name || (f.node !== undefined && layer.nodes.includes(f.node));
  return report.findings.flatMap((f) => (f.members ? memberFindings(f).filter(on).map((m) => ({ finding: m, group: f })) : on(f) ? [{ finding: f }] : []));
}

function figuresTable(l: LayerReport): string {
  const j = l.jacobian;
  const jacobianRow = (label: string, name: JacobianFigureName): [string, string, string] => {
    const f = jacobianFigure(j, name);
    return [label, formatFigure(f, true), f ? kindText(f.kind) : 'not computed'];
  };
  const rows: Array<[string, string, string]> = [
    jacobianRow('σmax', 'sigmaMax'),
    jacobianRow('σmin', 'sigmaMin'),
    jacobianRow('rms gain', 'rmsGain'),
    jacobianRow('condition κ', 'conditionNumber'),
    ['‖∂L/∂input‖', fmt(l.gradient.inputNorm), 'exact'],
    ['‖∂L/∂output‖', fmt(l.gradient.outputNorm), 'exact'],
  ];
  const rank = rankText(j);
  return `| figure | value | kind |\n| --- | --- | --- |\n${rows.map(([k, v, kind]) => `| ${k} | ${v} | ${kind} |`).join('\n')}\n| method | ${j.method} | |\n${rank ? `\n${rank}\n` : ''}`;
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]<>|]/g, (c) => `\\${c}`);
}

function lineLength(text: string, line: number): number {
  return text.split('\n')[line]?.length ?? 0;
}

/** Where in the Python sources a node's findings belong (see locateNode). */
export function sourceMatches(node: string, outline: OutlineResult, python: Array<{ path: string; text: string }>): SourceMatch[] {
  return locateNode(node, outline.frames, python);
}
