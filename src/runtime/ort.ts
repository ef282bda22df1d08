import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { DoctorError, errorMessage } from '../core/errors';
import type { ElementType, NdArray } from '../core/ndarray';
import { encodeModel } from '../core/onnx/encode';
import type { Model } from '../core/onnx/types';
import type { ExecutionProviderChoice, ExecutionProviderPreference, RunnerOptions, TensorRunner } from '../core/ports';

/** Weights larger than this are handed to onnxruntime by reference rather than copied into the model bytes. */
export const EXTERNALIZE_ABOVE_BYTES = 64 * 1024;

/** The onnxruntime-node version in use. */
export const ORT_VERSION: string = ort.env.versions.node ?? ort.env.versions.common;

/**
 * Compiles `model` into an onnxruntime session (from memory, weights passed by reference),
 * choosing the execution provider as the user asked: `auto` tries CUDA and falls back to CPU,
 * saying why; `cuda` fails clearly when CUDA cannot be used.
 */
export async function createOrtRunner(model: Model, options: RunnerOptions): Promise<TensorRunner> {
  const exposed = withExtraOutputs(model, options.extraOutputs ?? []);
  const { bytes, external } = encodeModel(exposed, { externalizeAbove: EXTERNALIZE_ABOVE_BYTES });
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    externalData: external.map((e) => ({ path: e.path, data: e.data })),
  };
  const { session, choice } = await createSession(bytes, base, options.executionProvider);
  return new OrtRunner(session, choice);
}

async function createSession(
  bytes: Uint8Array,
  base: ort.InferenceSession.SessionOptions,
  requested: ExecutionProviderPreference,
): Promise<{ session: ort.InferenceSession; choice: ExecutionProviderChoice }> {
  const create = (ep: 'cuda' | 'cpu') => ort.InferenceSession.create(bytes, { ...base, executionProviders: [ep] });
  if (requested !== 'cpu') {
    const unavailable = cudaUnavailableReason();
    if (!unavailable) {
      try {
        return { session: await create('cuda'), choice: { requested, used: 'cuda' } };
      } catch (e) {
        if (requested === 'cuda') throw new DoctorError('runtime', `the CUDA execution provider could not be used: ${errorMessage(e)}`);
        return { session: await createCpu(create), choice: { requested, used: 'cpu', fallbackReason: `CUDA failed: ${errorMessage(e)}` } };
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

function cleanOrtMessage(m: string): string {
  return m.replace(/^Error: /, '').replace(/\[ONNXRuntimeError\] : \d+ : \w+ : /, '');
}

/** A shallow copy of `model` whose graph also outputs `names` (duplicates and existing outputs skipped). */
function withExtraOutputs(model: Model, names: readonly string[]): Model {
  if (names.length === 0) return model;
  const existing = new Set(model.graph.outputs.map((o) => o.name));
  const extra = [...new Set(names)].filter((n) => !existing.has(n)).map((name) => ({ name }));
  return { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, ...extra] } };
}

class OrtRunner implements TensorRunner {
  constructor(
    private readonly session: ort.InferenceSession,
    readonly executionProvider: ExecutionProviderChoice,
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
      result = fetches ? await this.session.run(ortFeeds, [...fetches]) : await this.session.run(ortFeeds);
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
