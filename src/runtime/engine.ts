import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DoctorError, errorMessage, withFile } from '../core/errors';
import { analyzeModel, DEFAULT_ANALYZE_OPTIONS, type AnalyzeOptions } from '../core/analysis/analyze';
import { inspectModel, type InspectResult } from '../core/inspect';
import type { AnalysisReport } from '../core/report/types';
import type { SampleFile } from '../core/inputs/load';
import { DEFAULT_SAMPLE_OPTIONS } from '../core/inputs/prepare';
import type { WorkContext } from '../core/progress';
import type { AnalysisFlags, EngineOptions } from '../protocol/engine';
import { loadModelFile } from './modelFile';
import { createOrtRunner, ORT_VERSION } from './ort';

/**
 * The engine's file-system front door, shared by the CLI (in process) and the extension's worker:
 * reads the model and sample files, then runs the pure core with onnxruntime injected.
 */
export async function inspectFile(file: string, options: Partial<EngineOptions> = {}, ctx?: WorkContext): Promise<InspectResult> {
  try {
    ctx?.onProgress?.({ message: `Loading ${path.basename(file)}`, fraction: 0 });
    const loaded = loadModelFile(file);
    const samples = { ...DEFAULT_SAMPLE_OPTIONS, ...options.samples, files: readSampleFiles(options.samples?.files) };
    return await inspectModel(loaded, { executionProvider: options.executionProvider ?? 'auto', samples }, createOrtRunner, ORT_VERSION, ctx);
  } catch (e) {
    throw withFile(e, path.resolve(file));
  }
}

function readSampleFiles(files: string[] | undefined): SampleFile[] | undefined {
  return files?.map((f) => {
    try {
      return { name: f, bytes: readFileSync(f) };
    } catch (e) {
      throw new DoctorError('bad-input', `cannot read the sample file (${errorMessage(e)})`, f);
    }
  });
}

declare const GRADIENT_DOCTOR_VERSION: string;
/** This build's version (set by esbuild; 'dev' when run from source). */
export const TOOL_VERSION = typeof GRADIENT_DOCTOR_VERSION === 'string' ? GRADIENT_DOCTOR_VERSION : 'dev';

/** Analyses the model at `file` (see analyzeModel in the core). */
export async function analyzeFile(file: string, options: Partial<EngineOptions> & Partial<AnalysisFlags> = {}, ctx?: WorkContext): Promise<AnalysisReport> {
  try {
    ctx?.onProgress?.({ message: `Loading ${path.basename(file)}`, fraction: 0 });
    const loaded = loadModelFile(file);
    const samples = { ...DEFAULT_SAMPLE_OPTIONS, ...options.samples, files: readSampleFiles(options.samples?.files) };
    const analyzeOptions: AnalyzeOptions = {
      ...DEFAULT_ANALYZE_OPTIONS,
      executionProvider: options.executionProvider ?? 'auto',
      samples,
      ...(options.loss ? { loss: options.loss } : {}),
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.granularity ? { granularity: options.granularity } : {}),
      ...(options.momentum !== undefined ? { momentum: options.momentum } : {}),
      ...(options.curvatureIterations !== undefined ? { curvatureIterations: options.curvatureIterations } : {}),
    };
    return await analyzeModel(loaded, analyzeOptions, createOrtRunner, { ort: ORT_VERSION, tool: TOOL_VERSION }, ctx);
  } catch (e) {
    throw withFile(e, path.resolve(file));
  }
}
