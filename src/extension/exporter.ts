import * as path from 'node:path';
import * as vscode from 'vscode';
import { comparisonMarkdown, reportMarkdown } from '../core/report/markdown';
import { reportNetron } from '../core/report/netron';
import { reportSarif } from '../core/report/sarif';
import type { AnalysisReport } from '../core/report/types';
import { comparisonJson, type ComparisonResult } from '../core/review/compare';
import type { SourceMatch } from '../core/sourceMap';
import { standaloneHtml } from '../runtime/assets';

/** The formats a report exports to. A comparison exports to html, md and json. */
export type ExportFormat = 'html' | 'md' | 'sarif' | 'json' | 'netron';

interface FormatInfo {
  label: string;
  detail: string;
  /** The default file name's ending (after the model's name without .onnx). */
  suffix: string;
  filter: Record<string, string[]>;
}

const FORMATS: Record<ExportFormat, FormatInfo> = {
  html: { label: 'HTML', detail: 'One self-contained file: the interactive report, opens in any browser with no network', suffix: '.report.html', filter: { 'HTML': ['html'] } },
  md: { label: 'Markdown', detail: 'For a pull-request comment: the verdict, every finding with its fix (a group with its layers), the figures of the flagged layers, the gradient flow as text', suffix: '.report.md', filter: { 'Markdown': ['md'] } },
  sarif: { label: 'SARIF 2.1.0', detail: 'For code-scanning tools: one result per finding and location (each layer of a group), on the Python line when the model maps to it', suffix: '.sarif', filter: { 'SARIF': ['sarif', 'json'] } },
  json: { label: 'JSON', detail: 'The report contract (schema/report.schema.json)', suffix: '.report.json', filter: { 'JSON': ['json'] } },
  netron: { label: 'Netron attachment', detail: 'The per-node figures for Netron: open the model there, then open this file', suffix: '.netron.json', filter: { 'Netron attachment': ['json'] } },
};

/** The format a file name asks for, by its ending; undefined when it says none. */
export function formatOfFile(file: string): ExportFormat | undefined {
  const f = file.toLowerCase();
  if (f.endsWith('.netron.json')) return 'netron';
  if (f.endsWith('.sarif') || f.endsWith('.sarif.json')) return 'sarif';
  if (f.endsWith('.html') || f.endsWith('.htm')) return 'html';
  if (f.endsWith('.md') || f.endsWith('.markdown')) return 'md';
  if (f.endsWith('.json')) return 'json';
  return undefined;
}

/**
 * A command's optional target file and format, from its arguments. Menus pass other things in
 * those places (the explorer the selected files, the editor title bar the editor group): those
 * are not a target, and the user is asked instead.
 */
export function exportArgs(target: unknown, format: unknown): { target?: vscode.Uri; format?: ExportFormat } {
  return {
    target: target instanceof vscode.Uri ? target : undefined,
    format: typeof format === 'string' && format in FORMATS ? (format as ExportFormat) : undefined,
  };
}

/**
 * The format (given, else from the target's name, else picked by the user) and the file to write
 * (given, else chosen in a save dialog, by default `defaultFile(format)`). Never a .onnx file.
 */
export async function exportTarget(
  allowed: ExportFormat[],
  given: { target?: vscode.Uri; format?: ExportFormat },
  defaultFile: (format: ExportFormat, suffix: string) => string,
  title: string,
): Promise<{ format: ExportFormat; dest: vscode.Uri } | undefined> {
  const overModel = (dest: vscode.Uri) => /\.onnx$/i.test(dest.fsPath);
  if (given.target && overModel(given.target)) throw new Error(`refusing to export over a model (${given.target.fsPath})`);
  let format = given.format ?? (given.target ? formatOfFile(given.target.fsPath) : undefined);
  if (!format) {
    const picked = await vscode.window.showQuickPick(allowed.map((f) => ({ label: FORMATS[f].label, detail: FORMATS[f].detail, format: f })), { title, placeHolder: 'Export as' });
    format = picked?.format;
  }
  if (!format) return undefined;
  if (!allowed.includes(format)) throw new Error(`cannot export this as ${FORMATS[format].label}; choose one of ${allowed.map((f) => FORMATS[f].label).join(', ')}`);
  const info = FORMATS[format];
  const dest = given.target ?? (await vscode.window.showSaveDialog({ title, defaultUri: vscode.Uri.file(defaultFile(format, info.suffix)), filters: info.filter }));
  if (!dest) return undefined;
  if (overModel(dest)) throw new Error(`refusing to export over a model (${dest.fsPath})`);
  return { format, dest };
}

/** A report in an export format; `sources` places SARIF results on Python lines. */
export function reportExport(format: ExportFormat, report: AnalysisReport, model: vscode.Uri, sources?: Map<string, SourceMatch>): string {
  const rel = (file: string) => vscode.workspace.asRelativePath(file, false).split(path.sep).join('/');
  switch (format) {
    case 'html':
      return standaloneHtml(`${path.basename(model.fsPath)}: Gradient Doctor report`, report);
    case 'md':
      return reportMarkdown(report);
    case 'json':
      return JSON.stringify(report, null, 2);
    case 'netron':
      return JSON.stringify(reportNetron(report), null, 1);
    case 'sarif': {
      const placed = sources && new Map([...sources].map(([id, m]) => [id, { ...m, file: rel(m.file) }]));
      return JSON.stringify(reportSarif(report, { modelUri: rel(model.fsPath), sources: placed, toolVersion: report.tool.version }), null, 2);
    }
  }
}

/** A comparison in an export format (html, md or json). */
export function comparisonExport(format: ExportFormat, result: ComparisonResult): string {
  const c = result.comparison;
  switch (format) {
    case 'html':
      return standaloneHtml(`${path.basename(c.candidate.path)} against ${path.basename(c.base.path)}: Gradient Doctor`, { comparison: c });
    case 'md':
      return comparisonMarkdown(c);
    case 'json':
      return comparisonJson(result);
    default:
      throw new Error(`a comparison does not export as ${format}`);
  }
}

/** Writes text to a file through the workspace file system. */
export async function writeText(dest: vscode.Uri, text: string): Promise<void> {
  await vscode.workspace.fs.writeFile(dest, new TextEncoder().encode(text.endsWith('\n') ? text : `${text}\n`));
}
