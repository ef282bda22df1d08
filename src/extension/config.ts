import { existsSync } from 'node:fs';
import * as path from 'node:path';
import picomatch from 'picomatch';
import * as vscode from 'vscode';
import type { AnalysisFlags, EngineOptions } from '../protocol/engine';
import { readLabelsFile } from '../runtime/labels';
import { DEFAULT_MEMORY_BUDGET_MB } from '../core/analysis/memory';

/** The extension's settings, read in one place with their types and defaults. */
export function readEngineOptions(scope?: vscode.Uri): EngineOptions {
  const c = vscode.workspace.getConfiguration('gradientDoctor', scope);
  const files = scope ? sampleFilesFor(scope, c) : undefined;
  return {
    executionProvider: c.get<'auto' | 'cuda' | 'cpu'>('executionProvider', 'auto'),
    samples: {
      count: Math.max(1, c.get<number>('samples', 1)),
      seed: c.get<number>('seed', 0),
      distribution: c.get<'normal' | 'uniform'>('inputDistribution', 'normal'),
      // a plain copy: the settings object is a proxy, which the worker's IPC cannot clone
      dimensions: { ...c.get<Record<string, number>>('dimensions', {}) },
      ...(files ? { files } : {}),
    },
    runTimeoutSeconds: Math.max(0, c.get<number>('runTimeoutSeconds', 300)),
  };
}

/**
 * Everything a run of a model needs from the settings: engine options, loss, labels (read from
 * their file), granularity, curvature and the diagnosis settings.
 */
export function readRunOptions(model: vscode.Uri): EngineOptions & Partial<AnalysisFlags> {
  const c = vscode.workspace.getConfiguration('gradientDoctor', model);
  const labels = matchModel(model, c.get<Record<string, string>>('labels', {}));
  return {
    ...readEngineOptions(model),
    loss: c.get<AnalysisFlags['loss']>('loss', 'auto'),
    lossReduction: c.get<'mean' | 'sum'>('lossReduction', 'mean'),
    batchNorm: c.get<'auto' | 'batch' | 'running'>('batchNorm', 'auto'),
    granularity: c.get<'op' | 'layer' | 'module'>('granularity', 'layer'),
    momentum: c.get<number>('momentum', 0.9),
    curvatureIterations: c.get<number>('curvatureIterations', 20),
    memoryBudgetMB: c.get<number>('memoryBudgetMB', DEFAULT_MEMORY_BUDGET_MB),
    ...(labels ? { labels: readLabelsFile(resolveAgainstWorkspace(model, labels)) } : {}),
    ...readDiagnosisSettings(model),
  };
}

/** The diagnosis settings: threshold overrides by name and what the user trains with. */
export function readDiagnosisSettings(scope?: vscode.Uri): Pick<AnalysisFlags, 'thresholds' | 'learningRate' | 'weightDecay'> {
  const c = vscode.workspace.getConfiguration('gradientDoctor', scope);
  const lr = c.get<number | null>('learningRate', null);
  return {
    thresholds: { ...c.get<Record<string, number>>('thresholds', {}) },
    learningRate: typeof lr === 'number' && lr > 0 ? lr : undefined,
    weightDecay: c.get<number>('weightDecay', 0) || undefined,
  };
}

/** Editor behaviour: analyse on open, and the size above which to ask first. */
export function readEditorSettings(scope?: vscode.Uri): { analyzeOnOpen: boolean; largeModelWarningMB: number } {
  const c = vscode.workspace.getConfiguration('gradientDoctor', scope);
  return { analyzeOnOpen: c.get<boolean>('analyzeOnOpen', true), largeModelWarningMB: c.get<number>('largeModelWarningMB', 200) };
}

/** File name suffixes that, beside a model, hold its sample inputs by convention (model.onnx + model.inputs.npz). */
export const SAMPLE_SUFFIXES = ['.inputs.npz', '.inputs.npy', '.inputs.json'];

/**
 * The sample files of a model: those the `gradientDoctor.sampleInputs` setting maps to it (a glob
 * relative to the workspace folder, matched against the model's path), else a file beside the model
 * named by the convention; undefined means synthesize.
 */
function sampleFilesFor(model: vscode.Uri, c: vscode.WorkspaceConfiguration): string[] | undefined {
  const mapped = matchModel(model, c.get<Record<string, string[] | string>>('sampleInputs', {}));
  if (mapped) return (Array.isArray(mapped) ? mapped : [mapped]).map((f) => resolveAgainstWorkspace(model, f));
  const base = model.fsPath.replace(/\.onnx$/i, '');
  const beside = SAMPLE_SUFFIXES.map((s) => base + s).find((f) => existsSync(f));
  return beside ? [beside] : undefined;
}

function matchModel<T>(model: vscode.Uri, table: Record<string, T>): T | undefined {
  const folder = vscode.workspace.getWorkspaceFolder(model);
  const rel = folder ? path.relative(folder.uri.fsPath, model.fsPath).split(path.sep).join('/') : model.fsPath;
  for (const [glob, value] of Object.entries(table)) {
    if (picomatch(glob, { dot: true })(rel) || picomatch(glob, { dot: true })(model.fsPath)) return value;
  }
  return undefined;
}

function resolveAgainstWorkspace(model: vscode.Uri, file: string): string {
  if (path.isAbsolute(file)) return file;
  const folder = vscode.workspace.getWorkspaceFolder(model);
  return path.join(folder ? folder.uri.fsPath : path.dirname(model.fsPath), file);
}
