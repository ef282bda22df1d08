import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DoctorError, fileProblem, withFile } from '../core/errors';
import { analyzeModel, DEFAULT_ANALYZE_OPTIONS, type AnalyzeOptions } from '../core/analysis/analyze';
import { inspectModel, type InspectResult } from '../core/inspect';
import type { AnalysisReport, Remedy } from '../core/report/types';
import { applyRemedies, remediesOf } from '../core/diagnosis/remedies';
import { compareAnalyses, type WhatIfResult } from '../core/diagnosis/whatIf';
import { encodeModel } from '../core/onnx/encode';
import type { Model } from '../core/onnx/types';
import { validateGraph } from '../core/onnx/validate';
import { renderOnnxText, type OutlineLayer } from '../core/report/onnxText';
import { locateFindings, locateNode, nodeSourceFrames, type SourceFrame, type SourceMatch } from '../core/sourceMap';
import type { OutlineResult } from '../protocol/worker';
import { compareReports, type ComparisonResult } from '../core/review/compare';
import { resolveThresholds } from '../core/diagnosis/thresholds';
import type { SampleFile } from '../core/inputs/load';
import { DEFAULT_SAMPLE_OPTIONS } from '../core/inputs/prepare';
import type { WorkContext } from '../core/progress';
import type { AnalysisFlags, EngineOptions } from '../protocol/engine';
import { loadModelFile, readRegularFile } from './modelFile';
import { ORT_VERSION, ortRunnerFactory } from './ort';
import { DEFAULT_RUN_TIMEOUT_SECONDS } from './runLimit';

/** The onnxruntime runner factory for `file`, its calls held to the options' run time limit. */
function runnerFor(file: string, options: Partial<EngineOptions>) {
  return ortRunnerFactory({ seconds: options.runTimeoutSeconds ?? DEFAULT_RUN_TIMEOUT_SECONDS, file });
}

/**
 * The engine's file-system front door, shared by the CLI (in process) and the extension's worker:
 * reads the model and sample files, then runs the pure core with onnxruntime injected.
 */
export async function inspectFile(file: string, options: Partial<EngineOptions> = {}, ctx?: WorkContext): Promise<InspectResult> {
  try {
    ctx?.onProgress?.({ message: `Loading ${path.basename(file)}`, fraction: 0 });
    const loaded = loadModelFile(file);
    const samples = { ...DEFAULT_SAMPLE_OPTIONS, ...options.samples, files: readSampleFiles(options.samples?.files) };
    return await inspectModel(loaded, { executionProvider: options.executionProvider ?? 'auto', samples }, runnerFor(loaded.path, options), ORT_VERSION, ctx);
  } catch (e) {
    throw withFile(e, path.resolve(file));
  }
}

function readSampleFiles(files: string[] | undefined): SampleFile[] | undefined {
  return files?.map((f) => ({ name: f, bytes: readRegularFile(f, { kind: 'bad-input', what: 'the sample file' }) }));
}

declare const GRADIENT_DOCTOR_VERSION: string;
/** This build's version (set by esbuild; 'dev' when run from source). */
export const TOOL_VERSION = typeof GRADIENT_DOCTOR_VERSION === 'string' ? GRADIENT_DOCTOR_VERSION : 'dev';

/** Analyses the model at `file` (see analyzeModel in the core). */
export async function analyzeFile(file: string, options: Partial<EngineOptions> & Partial<AnalysisFlags> = {}, ctx?: WorkContext): Promise<AnalysisReport> {
  try {
    ctx?.onProgress?.({ message: `Loading ${path.basename(file)}`, fraction: 0 });
    const loaded = loadModelFile(file);
    return await analyzeModel(loaded, analyzeOptionsOf(options), runnerFor(loaded.path, options), { ort: ORT_VERSION, tool: TOOL_VERSION }, ctx);
  } catch (e) {
    throw withFile(e, path.resolve(file));
  }
}

/** What a what-if preview changes, and whether to write the patched copy. */
export interface WhatIfRequest {
  /** Finding ids or rule ids whose remedies to apply; empty: every finding's remedies. */
  fixes: string[];
  /** Remedies given directly (applied before those of the findings). */
  remedies?: Remedy[];
  /**
   * Write the patched model beside the original: true for `<name>.whatif.onnx`, or a path.
   * Never the original file, never over an existing file.
   */
  write?: boolean | string;
}

/**
 * Analyses the model, applies the chosen remedies to an in-memory copy, analyses the copy and
 * compares the two (Diagnosis issue: what-if preview). The user's model file is only read.
 */
export async function whatIfFile(file: string, request: WhatIfRequest, options: Partial<EngineOptions> & Partial<AnalysisFlags> = {}, ctx?: WorkContext): Promise<WhatIfResult> {
  try {
    const target = request.write ? whatIfTarget(file, request.write) : undefined;
    const loaded = loadModelFile(file);
    const createRunner = runnerFor(loaded.path, options);
    const analyzeOptions = analyzeOptionsOf(options);
    const versions = { ort: ORT_VERSION, tool: TOOL_VERSION };
    const half = (from: number, label: string): WorkContext => ({
      ...ctx,
      onPartial: undefined,
      onProgress: (p) => ctx?.onProgress?.({ message: `${label}: ${p.message}`, fraction: from + (p.fraction ?? 0) / 2 }),
    });
    const before = await analyzeModel(loaded, analyzeOptions, createRunner, versions, half(0, 'Before'));
    const remedies = [...(request.remedies ?? []), ...remediesOf(before.findings, request.fixes)];
    if (remedies.length === 0) throw new DoctorError('bad-input', 'nothing to apply: none of the chosen findings has a remedy that can be applied to the model itself');
    const patched = applyRemedies(loaded.model, remedies, analyzeOptions.samples.seed);
    const order = validateGraph(patched.model.graph, loaded.path);
    const after = await analyzeModel({ ...loaded, model: patched.model, order, path: `${loaded.path} (what-if)` }, analyzeOptions, createRunner, versions, half(0.5, 'After'));
    const result = compareAnalyses(before, after, patched.applied);
    if (target) result.written = writePatched(target, patched.model);
    return result;
  } catch (e) {
    throw withFile(e, path.resolve(file));
  }
}

/**
 * Where `what-if --write` puts the patched model, checked before any work: never the original,
 * never an existing file, and only into a folder that exists. Throws a 'bad-input' DoctorError.
 */
export function whatIfTarget(original: string, write: true | string): string {
  const target = path.resolve(write === true ? original.replace(/(\.onnx)?$/i, '.whatif.onnx') : write);
  if (target === path.resolve(original)) throw new DoctorError('bad-input', 'refusing to overwrite the original model; choose another file name', target);
  if (existsSync(target)) throw new DoctorError('bad-input', 'refusing to overwrite an existing file; remove it or choose another name', target);
  const folder = path.dirname(target);
  let isFolder: boolean;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch (e) {
    throw new DoctorError('bad-input', `cannot write the patched model there: its folder ${folder} cannot be used (${fileProblem(e)})`, target);
  }
  if (!isFolder) throw new DoctorError('bad-input', `cannot write the patched model there: ${folder} is not a folder`, target);
  return target;
}

function writePatched(target: string, model: Model): string {
  try {
    writeFileSync(target, encodeModel(model).bytes, { flag: 'wx' });
  } catch (e) {
    throw new DoctorError('bad-input', `cannot write the patched model (${fileProblem(e)})`, target);
  }
  return target;
}

function analyzeOptionsOf(options: Partial<EngineOptions> & Partial<AnalysisFlags>): AnalyzeOptions {
  const samples = { ...DEFAULT_SAMPLE_OPTIONS, ...options.samples, files: readSampleFiles(options.samples?.files) };
  return {
    ...DEFAULT_ANALYZE_OPTIONS,
    executionProvider: options.executionProvider ?? 'auto',
    samples,
    ...(options.loss ? { loss: options.loss } : {}),
    ...(options.lossReduction ? { lossReduction: options.lossReduction } : {}),
    ...(options.batchNorm ? { batchNorm: options.batchNorm } : {}),
    ...(options.labels ? { labels: options.labels } : {}),
    ...(options.granularity ? { granularity: options.granularity } : {}),
    ...(options.momentum !== undefined ? { momentum: options.momentum } : {}),
    ...(options.curvatureIterations !== undefined ? { curvatureIterations: options.curvatureIterations } : {}),
    ...(options.memoryBudgetMB !== undefined ? { memoryBudgetMB: options.memoryBudgetMB } : {}),
    diagnosis: {
      thresholds: options.thresholds,
      training: { learningRate: options.learningRate, weightDecay: options.weightDecay },
    },
  };
}

/** The model as ONNX text with node lines, and the Python frames its nodes carry (for the editor). */
export function outlineFile(file: string, layers: OutlineLayer[] = []): OutlineResult {
  try {
    const loaded = loadModelFile(file);
    const text = renderOnnxText(loaded.model, layers);
    const frames: Record<string, SourceFrame[]> = {};
    for (const node of loaded.model.graph.nodes) {
      const f = nodeSourceFrames(node);
      if (f.length) frames[node.name] = f;
    }
    return { text: text.text, nodeLines: Object.fromEntries(text.nodeLines), signatureLine: text.signatureLine, frames };
  } catch (e) {
    throw withFile(e, path.resolve(file));
  }
}

/** Two analyses with the same samples and seed, compared (Review issue). */
export async function compareFiles(basePath: string, candidatePath: string, options: Partial<EngineOptions> & Partial<AnalysisFlags> = {}, ctx?: WorkContext): Promise<ComparisonResult> {
  const half = (from: number, label: string): WorkContext => ({
    ...ctx,
    onPartial: undefined,
    onProgress: (p) => ctx?.onProgress?.({ message: `${label}: ${p.message}`, fraction: from + (p.fraction ?? 0) / 2 }),
  });
  const base = await analyzeFile(basePath, options, half(0, 'Base'));
  const candidate = await analyzeFile(candidatePath, options, half(0.5, 'Candidate'));
  const t = resolveThresholds(options.thresholds);
  return { comparison: compareReports(base, candidate, t), base, candidate };
}

/** Folders never scanned for Python sources. */
const SKIP_DIRS = new Set(['node_modules', '.git', '.venv', 'venv', 'site-packages', '__pycache__', 'dist', 'out']);

/** Where each finding of a report belongs in the Python files under `dir` (exporter stack traces, else module names). */
export function findingSources(modelPath: string, report: AnalysisReport, dir: string, maxFiles = 2000): Map<string, SourceMatch> {
  const files: Array<{ path: string; text: string }> = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (files.length >= maxFiles) return;
      if (e.isDirectory() && !SKIP_DIRS.has(e.name)) walk(path.join(d, e.name));
      else if (e.isFile() && e.name.endsWith('.py')) files.push({ path: path.join(d, e.name), text: readFileSync(path.join(d, e.name), 'utf8') });
    }
  };
  walk(path.resolve(dir));
  const { frames } = outlineFile(modelPath);
  const located = locateFindings(report, (node) => locateNode(node, frames, files)[0]);
  return new Map([...located].map(([id, match]) => [id, { ...match, file: path.relative(process.cwd(), match.file).split(path.sep).join('/') }]));
}
