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
   * The session serves a single run (a forward pass that exposes every tensor, a statistics pass):
   * compiled without the layout transformations, which cost more to make than one run saves
   * (resnet50's statistics graph: 1.1 s to compile with them, 0.5 s without).
   */
  runOnce?: boolean;
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
