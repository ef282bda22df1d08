import { batchNormPlan, BATCH_NORM_SAMPLES, detectBatchNorm, type BatchNormMode, type BatchNormOutcome } from './analysis/batchNorm';
import { isDoctorError } from './errors';
import type { ElementType } from './ndarray';
import { toNumbers } from './ndarray';
import { prepareSamples, type PreparedSamples, type SampleOptions } from './inputs/prepare';
import { runAtRunnableSizes, type RunnableSamples } from './inputs/sizeLadder';
import type { DimensionBinding } from './inputs/signature';
import type { InputRecipe } from './inputs/synthesize';
import { summarizeModel, type ModelSummary } from './onnx/summary';
import type { Model } from './onnx/types';
import type { ExecutionProviderChoice, ExecutionProviderPreference, RunnerFactory } from './ports';
import { checkpoint, type WorkContext } from './progress';

/**
 * What `inspect` reports: the model summary, which needs no run, plus one real forward pass on a
 * sample (at sizes the model runs at: the size ladder of sizeLadder.ts, as the analysis uses). When
 * the sample cannot be made or the model does not run on it, the summary stands and `forwardError`
 * says why (the run's fields are then empty or absent).
 */
export interface InspectResult {
  file: string;
  sha256: string;
  fileBytes: number;
  summary: ModelSummary;
  /** The execution provider of the session; absent when no session could be created. */
  executionProvider?: ExecutionProviderChoice;
  ortVersion: string;
  sampleInputs: InputRecipe[];
  dimensionBindings: DimensionBinding[];
  /** The outputs of the forward pass on the first sample. */
  outputs: Array<{ name: string; dtype: ElementType; dims: number[]; finite: boolean }>;
  forwardMs?: number;
  /** Why the forward pass failed, when it did. */
  forwardError?: string;
  /**
   * BatchNorm at default statistics, BatchNorm folded into convolutions by the exporter, and
   * Dropout (the analysis's own detection), with the semantics `analyze` would use and why;
   * absent when the model has none (README "BatchNorm at initialisation").
   */
  batchNorm?: BatchNormOutcome;
  /** The samples batch statistics would be computed over, when `batchNorm.mode` is batch. */
  batchNormSamples?: number;
}

/** Options for {@link inspectModel}. */
export interface InspectOptions {
  executionProvider: ExecutionProviderPreference;
  samples: SampleOptions;
  /** The BatchNorm semantics an analysis would be asked for (default auto). */
  batchNorm?: BatchNormMode;
}

/** A decoded model with its file facts, as the runtime's loader gives it. */
export interface ModelSource {
  path: string;
  model: Model;
  sha256: string;
  fileBytes: number;
  externalDataFiles: string[];
}

/** Summarises a model and runs it once on a sample, which proves it loads and runs in onnxruntime. */
export async function inspectModel(
  source: ModelSource,
  options: InspectOptions,
  createRunner: RunnerFactory,
  ortVersion: string,
  ctx?: WorkContext,
): Promise<InspectResult> {
  const summary = summarizeModel(source.model, source.externalDataFiles);
  const batchNorm = batchNormPlan(detectBatchNorm(source.model), options.batchNorm ?? 'auto');
  const bnFacts = batchNorm ? { batchNorm, batchNormSamples: batchNorm.mode === 'batch' ? (options.samples.files?.length ? undefined : BATCH_NORM_SAMPLES) : undefined } : {};
  const staticPart = { file: source.path, sha256: source.sha256, fileBytes: source.fileBytes, summary, ortVersion, ...bnFacts };
  // the summary stands without a run: a sample or a session that fails is reported as the forward pass's own failure
  const failed = (e: unknown, prepared?: PreparedSamples): InspectResult => {
    if (!isDoctorError(e) || e.kind === 'cancelled') throw e;
    return { ...staticPart, sampleInputs: prepared?.recipes ?? [], dimensionBindings: prepared?.bindings ?? [], outputs: [], forwardError: e.message };
  };
  ctx?.onProgress?.({ message: 'Preparing sample inputs', fraction: 0.2 });
  const sampleOptions = { ...options.samples, count: 1 };
  let prepared: PreparedSamples;
  try {
    prepared = prepareSamples(source.model, sampleOptions, source.path);
  } catch (e) {
    return failed(e);
  }
  await checkpoint(ctx);
  ctx?.onProgress?.({ message: 'Creating onnxruntime session', fraction: 0.4 });
  let runner: Awaited<ReturnType<RunnerFactory>>;
  try {
    runner = await createRunner(source.model, { executionProvider: options.executionProvider });
  } catch (e) {
    return failed(e, prepared);
  }
  try {
    await checkpoint(ctx);
    ctx?.onProgress?.({ message: 'Running the model on a sample', fraction: 0.7 });
    let ran: RunnableSamples;
    try {
      ran = await runAtRunnableSizes(source.model, sampleOptions, source.path, runner, ctx, prepared);
    } catch (e) {
      return { ...failed(e, prepared), executionProvider: runner.executionProvider };
    }
    return {
      ...staticPart,
      executionProvider: runner.executionProvider,
      sampleInputs: ran.prepared.recipes,
      dimensionBindings: ran.prepared.bindings,
      outputs: Object.entries(ran.outputs).map(([name, a]) => ({ name, dtype: a.dtype, dims: a.dims, finite: toNumbers(a).every(Number.isFinite) })),
      forwardMs: ran.forwardMs,
    };
  } finally {
    await runner.dispose();
  }
}
