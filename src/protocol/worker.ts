import type { DoctorErrorKind } from '../core/errors';
import type { InspectResult } from '../core/inspect';
import type { AnalysisReport } from '../core/report/types';
import type { Progress } from '../core/progress';
import type { WhatIfResult } from '../core/diagnosis/whatIf';
import type { OutlineLayer } from '../core/report/onnxText';
import type { SourceFrame } from '../core/sourceMap';
import type { Comparison } from '../core/review/compare';
import type { AnalysisFlags, EngineOptions, WhatIfOptions } from './engine';

/** What each kind of work returns. */
export interface WorkerResults {
  inspect: InspectResult;
  analyze: AnalysisReport;
  whatIf: WhatIfResult;
  outline: OutlineResult;
  compare: { comparison: Comparison; base: AnalysisReport; candidate: AnalysisReport };
}

/** The model as text (ONNX text syntax) with where each node is, and the Python frames nodes carry. */
export interface OutlineResult {
  text: string;
  /** 0-based line of each main-graph node, by node name. */
  nodeLines: Record<string, number>;
  signatureLine: number;
  /** Python frames recorded by the exporter, by node name (only nodes that have any). */
  frames: Record<string, SourceFrame[]>;
}

/** A kind of work the worker does. */
export type WorkKind = keyof WorkerResults;

/** Host -> worker messages. */
export type WorkerRequest =
  /** Start work `kind` on the model at `path`; replies carry the same `id`. */
  | { type: 'work/start'; id: number; kind: WorkKind; path: string; options: WorkOptions }
  /** Stop work `id` as soon as possible; it then ends with a 'cancelled' error. */
  | { type: 'work/cancel'; id: number }
  /** Test hook: make the worker die as a native crash would. */
  | { type: 'worker/crash' };

/** Options of every kind of work (each reads what it needs). */
export type WorkOptions = Partial<EngineOptions> & Partial<AnalysisFlags> & { whatIf?: WhatIfOptions; outlineLayers?: OutlineLayer[]; compareWith?: string };

/** Worker -> host messages. */
export type WorkerReply =
  /** The worker is up and ready for requests. */
  | { type: 'worker/ready'; pid: number }
  /** Work `id` made progress. */
  | { type: 'work/progress'; id: number; progress: Progress }
  /** Work `id` (an analysis) has these figures so far: the first answer, then refinements. */
  | { type: 'work/partial'; id: number; report: AnalysisReport }
  /** Work `id` finished with this result. */
  | { type: 'work/result'; id: number; result: WorkerResults[WorkKind] }
  /** Work `id` failed. */
  | { type: 'work/error'; id: number; error: SerializedError }
  /** A line for the log. */
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };

/** An error as it crosses the process boundary. */
export interface SerializedError {
  kind: DoctorErrorKind;
  message: string;
  file?: string;
  stack?: string;
}
