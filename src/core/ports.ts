import type { NdArray } from './ndarray';
import type { Model } from './onnx/types';

/** Which execution provider the user asked for. */
export type ExecutionProviderPreference = 'auto' | 'cuda' | 'cpu';

/** Which execution provider actually runs, and why when it is not the one asked for. */
export interface ExecutionProviderChoice {
  requested: ExecutionProviderPreference;
  used: 'cuda' | 'cpu';
  /** Set when `auto` fell back to CPU: the reason CUDA could not be used. */
  fallbackReason?: string;
}

/** A compiled model that maps named inputs to named outputs (onnxruntime, in the runtime). */
export interface TensorRunner {
  readonly executionProvider: ExecutionProviderChoice;
  /** Input names the runner expects. */
  readonly inputNames: readonly string[];
  /** Output names the runner can fetch, intermediate tensors included. */
  readonly outputNames: readonly string[];
  run(feeds: Record<string, NdArray>, fetches?: readonly string[]): Promise<Record<string, NdArray>>;
  dispose(): Promise<void>;
}

/** Options for {@link RunnerFactory}. */
export interface RunnerOptions {
  executionProvider: ExecutionProviderPreference;
  /** Intermediate tensors to expose as extra outputs. */
  extraOutputs?: readonly string[];
  /**
   * The session serves one run, or a few dozen of a graph of thousands of nodes (a forward pass
   * that exposes every tensor, a statistics pass, a shape probe, the Hessian products): compiled
   * without graph optimizations, which cost more to make than such runs save. Measured on
   * densenet121@64: its 20k-node shape probe compiles in 8.6 s with the extended optimizations and
   * 2.6 s without; its 10k-node forward-over-reverse model in 5.5 s with all of them and 1.5 s
   * without, and its 20 Hessian products run no slower.
   */
  fewRuns?: boolean;
}

/** The port through which the core compiles models; injected by the runtime. */
export type RunnerFactory = (model: Model, options: RunnerOptions) => Promise<TensorRunner>;

/** Hooks around the sessions and runs of a {@link RunnerFactory}. */
export interface RunHooks {
  /** Before a session is created (may throw to refuse it). */
  beforeSession?: () => void;
  /** Before a run starts (may throw to refuse it). */
  beforeRun?: () => void;
  /** After a run returned. */
  afterRun?: () => void;
}

/** The same factory, with `hooks` called around every session it creates and every run of those sessions. */
export function withRunHooks(createRunner: RunnerFactory, hooks: RunHooks): RunnerFactory {
  return async (model, options) => {
    hooks.beforeSession?.();
    const runner = await createRunner(model, options);
    return {
      get executionProvider() { return runner.executionProvider; },
      get inputNames() { return runner.inputNames; },
      get outputNames() { return runner.outputNames; },
      run: async (feeds, fetches) => {
        hooks.beforeRun?.();
        const out = await runner.run(feeds, fetches);
        hooks.afterRun?.();
        return out;
      },
      dispose: () => runner.dispose(),
    };
  };
}
