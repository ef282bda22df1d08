import type { ElementType } from './ndarray';
import { toNumbers } from './ndarray';
import { prepareSamples, type SampleOptions } from './inputs/prepare';
import type { DimensionBinding } from './inputs/signature';
import type { InputRecipe } from './inputs/synthesize';
import { summarizeModel, type ModelSummary } from './onnx/summary';
import type { Model } from './onnx/types';
import type { ExecutionProviderChoice, ExecutionProviderPreference, RunnerFactory } from './ports';
import { checkpoint, type WorkContext } from './progress';

/** What `inspect` reports: the model summary plus one real forward pass on a sample. */
export interface InspectResult {
  file: string;
  sha256: string;
  fileBytes: number;
  summary: ModelSummary;
  executionProvider: ExecutionProviderChoice;
  ortVersion: string;
  sampleInputs: InputRecipe[];
  dimensionBindings: DimensionBinding[];
  /** The outputs of the forward pass on the first sample. */
  outputs: Array<{ name: string; dtype: ElementType; dims: number[]; finite: boolean }>;
  forwardMs: number;
}

/** Options for {@link inspectModel}. */
export interface InspectOptions {
  executionProvider: ExecutionProviderPreference;
  samples: SampleOptions;
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
  ctx?.onProgress?.({ message: 'Preparing sample inputs', fraction: 0.2 });
  const prepared = prepareSamples(source.model, { ...options.samples, count: 1 }, source.path);
  await checkpoint(ctx);
  ctx?.onProgress?.({ message: 'Creating onnxruntime session', fraction: 0.4 });
  const runner = await createRunner(source.model, { executionProvider: options.executionProvider });
  try {
    await checkpoint(ctx);
    ctx?.onProgress?.({ message: 'Running the model on a sample', fraction: 0.7 });
    const t0 = performance.now();
    const out = await runner.run(prepared.samples[0]);
    const forwardMs = performance.now() - t0;
    return {
      file: source.path,
      sha256: source.sha256,
      fileBytes: source.fileBytes,
      summary,
      executionProvider: runner.executionProvider,
      ortVersion,
      sampleInputs: prepared.recipes,
      dimensionBindings: prepared.bindings,
      outputs: Object.entries(out).map(([name, a]) => ({ name, dtype: a.dtype, dims: a.dims, finite: toNumbers(a).every(Number.isFinite) })),
      forwardMs,
    };
  } finally {
    await runner.dispose();
  }
}
