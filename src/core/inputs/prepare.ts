import { DoctorError } from '../errors';
import type { Model } from '../onnx/types';
import { loadSamples, type SampleFile } from './load';
import { resolveInputs, type ChosenSizes, type DimensionBinding } from './signature';
import { synthesizeSamples, type FloatDistribution, type InputRecipe, type Sample } from './synthesize';

/** How the samples for a run are chosen. */
export interface SampleOptions {
  /** Number of synthesized samples (ignored when files are given). */
  count: number;
  seed: number;
  distribution: FloatDistribution;
  /** Sizes for symbolic dimensions, by symbol name or `input:axis` (which also reaches unnamed ones). */
  dimensions: Record<string, number>;
  /** User-provided sample files; when present, nothing is synthesized. */
  files?: SampleFile[];
}

/** The samples of a run and how they were made. */
export interface PreparedSamples {
  samples: Sample[];
  source: 'synthesized' | 'files';
  recipes: InputRecipe[];
  bindings: DimensionBinding[];
}

/** Default sample options (documented in the README). */
export const DEFAULT_SAMPLE_OPTIONS: SampleOptions = { count: 1, seed: 0, distribution: 'normal', dimensions: {} };

/**
 * Resolves the model's inputs and loads or synthesizes the samples; `chosen` sets sizes for
 * default-bound dimensions (the size ladder's, see sizeLadder.ts) and its reason becomes the note of
 * every input it resizes.
 */
export function prepareSamples(model: Model, options: SampleOptions, file?: string, chosen?: ChosenSizes): PreparedSamples {
  if (!Number.isInteger(options.count) || options.count < 1) throw new DoctorError('bad-input', `the number of samples must be a positive integer, not ${options.count}`);
  const { inputs, bindings } = resolveInputs(model, options.dimensions, file, chosen);
  if (options.files && options.files.length > 0) {
    const samples = loadSamples(options.files, inputs);
    const recipes = inputs.map((i) => ({ input: i.name, dtype: i.dtype, dims: samples[0][i.name].dims, distribution: `from ${options.files?.map((f) => f.name).join(', ')}` }));
    return { samples, source: 'files', recipes, bindings: [] };
  }
  const { samples, recipes } = synthesizeSamples(model, inputs, options);
  for (const r of recipes) {
    const reason = bindings.find((b) => b.input === r.input && b.source === 'ladder')?.reason;
    if (reason) r.note = reason;
  }
  return { samples, source: 'synthesized', recipes, bindings };
}
