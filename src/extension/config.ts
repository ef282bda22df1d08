import * as vscode from 'vscode';
import type { AnalysisFlags, EngineOptions } from '../protocol/engine';

/** The extension's settings, read in one place with their types and defaults. */
export function readEngineOptions(scope?: vscode.Uri): EngineOptions {
  const c = vscode.workspace.getConfiguration('gradientDoctor', scope);
  return {
    executionProvider: c.get<'auto' | 'cuda' | 'cpu'>('executionProvider', 'auto'),
    samples: {
      count: Math.max(1, c.get<number>('samples', 1)),
      seed: c.get<number>('seed', 0),
      distribution: c.get<'normal' | 'uniform'>('inputDistribution', 'normal'),
      // a plain copy: the settings object is a proxy, which the worker's IPC cannot clone
      dimensions: { ...c.get<Record<string, number>>('dimensions', {}) },
    },
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
