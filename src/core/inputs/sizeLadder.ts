import { DoctorError, errorMessage, isDoctorError } from '../errors';
import { sizeOf, type NdArray } from '../ndarray';
import type { Model } from '../onnx/types';
import type { ExecutionProviderPreference, RunnerFactory, TensorRunner } from '../ports';
import { checkpoint, type WorkContext } from '../progress';
import { prepareSamples, type PreparedSamples, type SampleOptions } from './prepare';
import { dimensionRole, modelInputs, resolveInputs, type DimensionBinding } from './signature';
import { suggestSizes } from './sizeHints';
import type { Sample } from './synthesize';

/** The sizes tried for symbolic dimensions when the model does not run at the defaults (documented in the README). */
export const SIZE_LADDER: readonly number[] = [16, 64, 256, 1024];
/** Graph-suggested sizes tried beside the ladder, at most. */
export const MAX_HINTED_TRIES = 4;
/** A try whose inputs would hold more elements than this in all is skipped. */
export const MAX_TRY_ELEMENTS = 1 << 24;
/** The ladder stops once this many sizes (the default included) failed with the same message: the size is then not what fails, and larger runs only cost time and memory. */
export const SAME_FAILURES_TO_STOP = 3;

/** Samples that the model ran on, with the outputs of that run on the first. */
export interface RunnableSamples {
  prepared: PreparedSamples;
  outputs: Record<string, NdArray>;
  /** Milliseconds the successful run on the first sample took. */
  forwardMs: number;
}

/**
 * The samples of a run at sizes the model runs at. The samples are prepared as asked; when the model
 * fails on the first and some symbolic dimension (not a batch) got its size from the default rather
 * than from the user, larger sizes are tried for those dimensions (see {@link runAtRunnableSizes}).
 * Costs one session, and a run per size tried, only when such a dimension exists.
 */
export async function prepareRunnableSamples(
  model: Model,
  options: SampleOptions,
  file: string | undefined,
  createRunner: RunnerFactory,
  executionProvider: ExecutionProviderPreference,
  ctx?: WorkContext,
): Promise<PreparedSamples> {
  const prepared = prepareSamples(model, options, file);
  if (ladderDimensions(prepared.bindings).length === 0) return prepared;
  const runner = await createRunner(model, { executionProvider });
  try {
    return (await runAtRunnableSizes(model, options, file, runner, ctx, prepared)).prepared;
  } finally {
    await runner.dispose();
  }
}

/**
 * Runs `runner` on the first sample; when that fails and the ladder applies, tries larger sizes for
 * the default-bound dimensions, smallest first: the ladder {@link SIZE_LADDER} and the sizes the graph
 * suggests (see {@link suggestSizes}), every such dimension at least at the size tried. The first
 * size that runs is kept, and each resized input's recipe says which and why. When none runs, the
 * error names the dimensions, the sizes tried, onnxruntime's message and the option that sets them.
 * A failure word for word the same at {@link SAME_FAILURES_TO_STOP} sizes ends the tries early.
 * Cancellation, time limits and errors that are not onnxruntime's are not retried.
 */
export async function runAtRunnableSizes(
  model: Model,
  options: SampleOptions,
  file: string | undefined,
  runner: TensorRunner,
  ctx?: WorkContext,
  prepared: PreparedSamples = prepareSamples(model, options, file),
): Promise<RunnableSamples> {
  const first = await tryRun(runner, prepared.samples[0]);
  if (!('error' in first)) return { prepared, ...first };
  const free = ladderDimensions(prepared.bindings);
  if (free.length === 0) throw first.error;
  const failures = [{ size: describeDefaults(free), message: first.message }];
  const skipped: number[] = [];
  const seen = new Set([JSON.stringify(free.map((b) => b.value))]);
  for (const candidate of candidateSizes(model)) {
    const sizes = Object.fromEntries(free.map((b) => [b.key, Math.max(b.value, candidate.size)]));
    const id = JSON.stringify(free.map((b) => sizes[b.key]));
    if (seen.has(id)) continue;
    seen.add(id);
    // counted before anything is allocated: several dimensions at 1024 may be more than memory holds
    if (resolveInputs(model, options.dimensions, file, { sizes, reason: '' }).inputs.reduce((n, i) => n + sizeOf(i.dims), 0) > MAX_TRY_ELEMENTS) {
      skipped.push(candidate.size);
      continue;
    }
    const trial = prepareSamples(model, { ...options, count: 1 }, file, { sizes, reason: '' });
    await checkpoint(ctx);
    ctx?.onProgress?.({ message: `The model did not run at the default sizes; trying ${assignments(free, sizes)}` });
    const r = await tryRun(runner, trial.samples[0]);
    if ('error' in r) {
      failures.push({ size: String(candidate.size), message: r.message });
      if (failures.length >= SAME_FAILURES_TO_STOP && failures.every((f) => f.message === failures[0].message)) break;
      continue;
    }
    const reason = successReason(free, sizes, candidate, failures);
    return { prepared: prepareSamples(model, options, file, { sizes, reason }), ...r };
  }
  throw new DoctorError('runtime', failureMessage(model, free, failures, skipped));
}

/** The default-bound dimensions the ladder may resize (not batch dimensions, not the user's), one per key. */
export function ladderDimensions(bindings: DimensionBinding[]): DimensionBinding[] {
  const byKey = new Map<string, DimensionBinding>();
  for (const b of bindings) {
    if (b.source === 'default' && dimensionRole(b.symbol, b.axis) !== 'batch' && !byKey.has(b.key)) byKey.set(b.key, b);
  }
  return [...byKey.values()];
}

/** A size to try, and where it came from. */
interface Candidate {
  size: number;
  /** What in the graph suggests it; undefined for a size of the ladder. */
  hint?: string;
}

/**
 * The ladder and up to {@link MAX_HINTED_TRIES} graph-suggested sizes not on it (what the graph needs,
 * Pad widths and kernels, before Reshape constants), smallest first.
 */
function candidateSizes(model: Model): Candidate[] {
  const hints = suggestSizes(model)
    .filter((h) => !SIZE_LADDER.includes(h.size))
    .sort((a, b) => Number(a.from === 'reshape') - Number(b.from === 'reshape') || a.size - b.size)
    .slice(0, MAX_HINTED_TRIES);
  const ladder: Candidate[] = SIZE_LADDER.map((size) => ({ size }));
  return [...ladder, ...hints.map((h) => ({ size: h.size, hint: h.reason }))].sort((a, b) => a.size - b.size);
}

type TryResult = { outputs: Record<string, NdArray>; forwardMs: number } | { error: DoctorError; message: string };

/** One forward run; onnxruntime's failures come back as a result, anything else is thrown. */
async function tryRun(runner: TensorRunner, sample: Sample): Promise<TryResult> {
  const t0 = performance.now();
  try {
    const outputs = await runner.run(sample);
    return { outputs, forwardMs: performance.now() - t0 };
  } catch (e) {
    if (!isDoctorError(e) || e.kind !== 'runtime') throw e;
    return { error: e, message: errorMessage(e).replace(/^onnxruntime failed to run the model: /, '') };
  }
}

/** "sequence" or "axis 1 of input 'x'". */
function dimensionName(b: DimensionBinding): string {
  return b.symbol ?? `axis ${b.axis} of input '${b.input}'`;
}

/** " The model declares axis 1 of input 'x' as -3, which is treated as unknown." for dimensions declared with a number that is not a size (0 or negative). */
function declaredSizes(model: Model, free: DimensionBinding[]): string {
  const said = free.flatMap((b) => {
    const info = b.symbol === null ? modelInputs(model).find((i) => i.name === b.input) : undefined;
    const declared = info?.type?.kind === 'tensor' ? info.type.shape?.[b.axis] : undefined;
    return typeof declared === 'number' ? [`axis ${b.axis} of input '${b.input}' as ${declared}`] : [];
  });
  return said.length ? ` The model declares ${said.join(', ')}, which ${said.length > 1 ? 'are' : 'is'} treated as unknown.` : '';
}

/** "sequence=128, x:1=128" for the dimensions whose size changes. */
function assignments(free: DimensionBinding[], sizes: Record<string, number>): string {
  return free.filter((b) => sizes[b.key] !== b.value).map((b) => `${b.key}=${sizes[b.key]}`).join(', ');
}

/** "16" when every free dimension defaults to 16, else "sequence 16, height 1". */
function describeDefaults(free: DimensionBinding[]): string {
  const values = new Set(free.map((b) => b.value));
  return values.size === 1 ? String(free[0].value) : free.map((b) => `${b.key} ${b.value}`).join(', ');
}

/** How to set the sizes: the CLI flags and the VS Code setting. */
function howToSet(free: DimensionBinding[]): string {
  return `${free.map((b) => `--dim ${b.key}=SIZE`).join(' ')} (in VS Code, the gradientDoctor.dimensions setting)`;
}

function successReason(free: DimensionBinding[], sizes: Record<string, number>, chosen: Candidate, failures: Array<{ size: string; message: string }>): string {
  const [atDefault, ...others] = failures;
  const alsoFailed = others.length ? `, nor at ${others.map((f) => f.size).join(', ')}` : '';
  const why = chosen.hint ? `suggested by the graph: ${chosen.hint}` : `the size ladder ${SIZE_LADDER.join(', ')}`;
  return `${assignments(free, sizes)}: the model did not run at the default ${atDefault.size} (${atDefault.message})${alsoFailed}; ${chosen.size} is the smallest size tried that runs (${why}); set ${free.length > 1 ? 'them' : 'it'} with ${howToSet(free)}`;
}

/**
 * Why no size ran. A failure word for word the same at every size tried is most likely not about
 * the size (a broken node, a wrong type): onnxruntime's message comes first, as without the ladder,
 * and the sizes tried are said after it.
 */
function failureMessage(model: Model, free: DimensionBinding[], failures: Array<{ size: string; message: string }>, skipped: number[]): string {
  const names = free.map(dimensionName).join(', ');
  const [atDefault, ...others] = failures;
  const tried = `(${atDefault.size} by default${others.length ? `, then ${others.map((f) => f.size).join(', ')}` : ''})`;
  const skippedSaid = skipped.length ? ` (${skipped.join(', ')} not tried: the inputs would hold more than ${MAX_TRY_ELEMENTS} elements)` : '';
  const them = free.length > 1 ? 'sizes' : 'size';
  if (others.length > 0 && others.every((f) => f.message === atDefault.message)) {
    return (
      `onnxruntime failed to run the model: ${atDefault.message}. ` +
      `It failed the same way at every size tried for ${names} ${tried}${skippedSaid}, so the ${them} ${free.length > 1 ? 'are' : 'is'} probably not the cause.${declaredSizes(model, free)} ` +
      `If the model needs ${free.length > 1 ? 'particular sizes' : 'a particular size'}, set ${free.length > 1 ? 'them' : 'it'} with ${howToSet(free)}, or give sample inputs (--inputs)`
    );
  }
  const last = others[others.length - 1];
  const lastSaid = last && last.message !== atDefault.message ? `; at ${last.size}: ${last.message}` : '';
  return (
    `the model does not run on synthesized inputs at any size tried for ${names} ${tried}${skippedSaid}.${declaredSizes(model, free)} ` +
    `At ${atDefault.size}, onnxruntime said: ${atDefault.message}${lastSaid}. ` +
    `Set the ${them} it needs with ${howToSet(free)}, or give sample inputs (--inputs)`
  );
}
