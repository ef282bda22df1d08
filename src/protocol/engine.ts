import type { FloatDistribution } from '../core/inputs/synthesize';
import type { ExecutionProviderPreference } from '../core/ports';

/** Options shared by every engine entry point (CLI flags, VS Code settings, worker requests). */
export interface EngineOptions {
  executionProvider: ExecutionProviderPreference;
  samples: {
    count: number;
    seed: number;
    distribution: FloatDistribution;
    /** Sizes for symbolic dimensions, by symbol name or `input:axis`. */
    dimensions: Record<string, number>;
    /** Paths of .npy/.npz/.json sample files; when given, nothing is synthesized. */
    files?: string[];
  };
  /** Seconds one onnxruntime call may take before the process is stopped; 0 for no limit (default 300). */
  runTimeoutSeconds?: number;
}

/** Options of the analysis on top of {@link EngineOptions}. */
export interface AnalysisFlags {
  loss: 'auto' | 'sum' | 'mse' | 'ce' | 'nll';
  /** Mean (default) or sum of the per-prediction losses. */
  lossReduction?: 'mean' | 'sum';
  /** BatchNorm with batch statistics (as in training), the model's running statistics, or auto (README "BatchNorm at initialisation"). */
  batchNorm?: 'auto' | 'batch' | 'running';
  labels?: number[];
  granularity: 'op' | 'layer' | 'module';
  momentum: number;
  curvatureIterations: number;
  /** The memory the analysis may use, in MiB: it lowers what it can to fit, or refuses before any work (README "Memory"). */
  memoryBudgetMB?: number;
  /** Diagnosis threshold overrides by name (see THRESHOLDS in src/core/diagnosis/thresholds.ts). */
  thresholds?: Record<string, number>;
  /** The learning rate the user trains with: a warning when it exceeds the stable bound. */
  learningRate?: number;
  /** L2 weight decay the user trains with (added to the Hessian's top eigenvalue). */
  weightDecay?: number;
}

/** What a what-if preview applies (see whatIfFile in src/runtime/engine.ts). */
export interface WhatIfOptions {
  /** Finding ids or rule ids whose remedies to apply; empty: every finding's. */
  fixes: string[];
}
