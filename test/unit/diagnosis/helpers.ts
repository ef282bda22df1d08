import { readFileSync } from 'node:fs';
import { analyzeModel, DEFAULT_ANALYZE_OPTIONS, type AnalyzeOptions } from '../../../src/core/analysis/analyze';
import type { DiagnosisOptions } from '../../../src/core/diagnosis/diagnose';
import { memberFindings } from '../../../src/core/diagnosis/group';
import { applyRemedies } from '../../../src/core/diagnosis/remedies';
import { decodeModel } from '../../../src/core/onnx/decode';
import type { Model } from '../../../src/core/onnx/types';
import { validateGraph } from '../../../src/core/onnx/validate';
import { DEFAULT_SAMPLE_OPTIONS } from '../../../src/core/inputs/prepare';
import type { AnalysisReport, Finding, Remedy } from '../../../src/core/report/types';
import { createOrtRunner } from '../../../src/runtime/ort';
import { model as fixture } from '../../helpers';

/** A fixture decoded into the IR. */
export function load(name: string): Model {
  return decodeModel(readFileSync(fixture(name)));
}

/** A fixture with remedies applied: how the tests build models with a given pathology. */
export function variant(name: string, remedies: Remedy[]): Model {
  return applyRemedies(load(name), remedies).model;
}

const cache = new Map<string, Promise<AnalysisReport>>();

/** Analyses a model in process on the CPU (no curvature unless asked), with diagnosis options. */
export function analyze(m: Model | string, opts: { samples?: number; curvature?: number; diagnosis?: DiagnosisOptions } = {}): Promise<AnalysisReport> {
  const key = typeof m === 'string' ? JSON.stringify([m, opts]) : undefined;
  const hit = key ? cache.get(key) : undefined;
  if (hit) return hit;
  const modelIr = typeof m === 'string' ? load(m) : m;
  const options: AnalyzeOptions = {
    ...DEFAULT_ANALYZE_OPTIONS,
    executionProvider: 'cpu',
    samples: { ...DEFAULT_SAMPLE_OPTIONS, count: opts.samples ?? 1 },
    curvatureIterations: opts.curvature ?? 0,
    diagnosis: opts.diagnosis,
  };
  const source = { path: typeof m === 'string' ? m : 'variant', model: modelIr, sha256: '0'.repeat(64), fileBytes: 0, externalDataFiles: [], order: validateGraph(modelIr.graph) };
  const p = analyzeModel(source, options, createOrtRunner, { ort: 'test', tool: 'test' });
  if (key) cache.set(key, p);
  return p;
}

export function byRule(r: AnalysisReport, rule: string): Finding[] {
  return r.findings.filter((f) => f.rule === rule);
}

/** A rule's findings location by location: a grouped finding's members as findings of their own. */
export function byLocation(r: AnalysisReport, rule: string): Finding[] {
  return byRule(r, rule).flatMap(memberFindings);
}
