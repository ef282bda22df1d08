import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { DoctorError, errorMessage } from '../core/errors';
import type { ElementType, NdArray } from '../core/ndarray';
import { encodeModel } from '../core/onnx/encode';
import type { Model } from '../core/onnx/types';
import type { ExecutionProviderChoice, ExecutionProviderPreference, RunnerFactory, RunnerOptions, TensorRunner } from '../core/ports';
import { cleanOrtMessage } from './ortMessage';
import { DEFAULT_RUN_TIMEOUT_SECONDS, timeLimitMessage, withTimeLimit } from './runLimit';

// onnxruntime's own log lines (coloured, with C++ source locations) never reach the user's stderr:
// its errors come back as exceptions, which become DoctorErrors with the message cleaned.
ort.env.logLevel = 'fatal';

/** Weights larger than this are handed to onnxruntime by reference rather than copied into the model bytes. */
export const EXTERNALIZE_ABOVE_BYTES = 64 * 1024;

/** The onnxruntime-node version in use. */
export const ORT_VERSION: string = ort.env.versions.node ?? ort.env.versions.common;

/** The time limit on each onnxruntime call, and the model it names when the limit is hit. */
export interface RunLimit {
  /** Seconds one call (a session's creation or one run) may take; 0 for no limit. */
  seconds: number;
  /** The model file, for the message. */
  file: string;
}

/** The limit used when none is given: {@link DEFAULT_RUN_TIMEOUT_SECONDS}, naming no file. */
const DEFAULT_LIMIT: RunLimit = { seconds: DEFAULT_RUN_TIMEOUT_SECONDS, file: 'the model' };

/**
 * Compiles `model` into an onnxruntime session (from memory, weights passed by reference),
 * choosing the execution provider as the user asked: `auto` tries CUDA and falls back to CPU,
 * saying why; `cuda` fails clearly when CUDA cannot be used. Every onnxruntime call of the runner
 * (creating the session, each run) is held to `limit` (see runLimit.ts).
 */
export async function createOrtRunner(model: Model, options: RunnerOptions, limit: RunLimit = DEFAULT_LIMIT): Promise<TensorRunner> {
  const exposed = withExtraOutputs(model, options.extraOutputs ?? []);
  const { bytes, external } = encodeModel(exposed, { externalizeAbove: EXTERNALIZE_ABOVE_BYTES });
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: options.fewRuns ? 'disabled' : 'all',
    logSeverityLevel: 4,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    externalData: external.map((e) => ({ path: e.path, data: e.data })),
  };
  const guard: Guard = (call) => withTimeLimit(limit.seconds * 1000, timeLimitMessage(limit.file, limit.seconds), call);
  const { session, choice } = await createSession(bytes, base, options.executionProvider, guard);
  return new OrtRunner(session, choice, guard);
}

/** A {@link RunnerFactory} whose runners hold every onnxruntime call to `limit`. */
export function ortRunnerFactory(limit: RunLimit): RunnerFactory {
  return (model, options) => createOrtRunner(model, options, limit);
}

/** Runs an onnxruntime call under the runner's time limit. */
type Guard = <T>(call: () => Promise<T>) => Promise<T>;

async function createSession(
  bytes: Uint8Array,
  base: ort.InferenceSession.SessionOptions,
  requested: ExecutionProviderPreference,
  guard: Guard,
): Promise<{ session: ort.InferenceSession; choice: ExecutionProviderChoice }> {
  const create = (ep: 'cuda' | 'cpu') => guard(() => ort.InferenceSession.create(bytes, { ...base, executionProviders: [ep] }));
  if (requested !== 'cpu') {
    const unavailable = cudaUnavailableReason();
    if (!unavailable) {
      try {
        return { session: await create('cuda'), choice: { requested, used: 'cuda' } };
      } catch (e) {
        if (requested === 'cuda') throw new DoctorError('runtime', `the CUDA execution provider could not be used: ${cleanOrtMessage(errorMessage(e))}`);
        return { session: await createCpu(create), choice: { requested, used: 'cpu', fallbackReason: `CUDA failed: ${cleanOrtMessage(errorMessage(e))}` } };
      }
    }
    if (requested === 'cuda') throw new DoctorError('runtime', `the CUDA execution provider is not available: ${unavailable}`);
    return { session: await createCpu(create), choice: { requested, used: 'cpu', fallbackReason: unavailable } };
  }
  return { session: await createCpu(create), choice: { requested, used: 'cpu' } };
}

async function createCpu(create: (ep: 'cpu') => Promise<ort.InferenceSession>): Promise<ort.InferenceSession> {
  try {
    return await create('cpu');
  } catch (e) {
    throw new DoctorError('runtime', `onnxruntime cannot load the model: ${cleanOrtMessage(errorMessage(e))}`);
  }
}

/** Why CUDA cannot be used here, or undefined when it may be. */
export function cudaUnavailableReason(): string | undefined {
  const cuda = ort.listSupportedBackends().find((b) => b.name === 'cuda');
  if (!cuda) return 'this onnxruntime-node build has no CUDA execution provider';
  if (!cuda.bundled && !cudaProviderInstalled()) {
    return 'the CUDA provider libraries are not installed (see the README, "GPU (CUDA)")';
  }
  return undefined;
}

function cudaProviderInstalled(): boolean {
  try {
    const dir = path.dirname(require.resolve('onnxruntime-node/package.json'));
    const bin = path.join(dir, 'bin', 'napi-v6', process.platform, process.arch);
    return readdirSync(bin).some((f) => /onnxruntime_providers_cuda/.test(f));
  } catch {
    return false;
  }
}

/** A shallow copy of `model` whose graph also outputs `names` (duplicates and existing outputs skipped). */
function withExtraOutputs(model: Model, names: readonly string[]): Model {
  if (names.length === 0) return model;
  const existing = new Set(model.graph.outputs.map((o) => o.name));
  const extra = [...new Set(names)].filter((n) => !existing.has(n)).map((name) => ({ name }));
  return { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, ...extra] } };
}

/** Runs log nothing to stderr (their errors come back as exceptions). */
const RUN_OPTIONS: ort.InferenceSession.RunOptions = { logSeverityLevel: 4 };

class OrtRunner implements TensorRunner {
  constructor(
    private readonly session: ort.InferenceSession,
    readonly executionProvider: ExecutionProviderChoice,
    private readonly guard: Guard,
  ) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Record<string, NdArray>, fetches?: readonly string[]): Promise<Record<string, NdArray>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, a] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(a.dtype, a.data as ort.Tensor.DataType, a.dims);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.guard(() => (fetches ? this.session.run(ortFeeds, [...fetches], RUN_OPTIONS) : this.session.run(ortFeeds, RUN_OPTIONS)));
    } catch (e) {
      throw new DoctorError('runtime', `onnxruntime failed to run the model: ${cleanOrtMessage(errorMessage(e))}`);
    }
    const out: Record<string, NdArray> = {};
    for (const [name, t] of Object.entries(result)) {
      out[name] = { dtype: t.type as ElementType, dims: [...t.dims], data: t.data as NdArray['data'] };
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
