import { DoctorError } from './errors';
import { withRunHooks, type RunnerFactory } from './ports';
import type { AnalysisReport } from './report/types';

/** One step of long work, for a progress bar: what is happening and how far along it is. */
export interface Progress {
  /** e.g. "Loading model", "Probing layer 12/40: /layer3/layer3.1/conv2". */
  message: string;
  /** Fraction done in [0, 1], when known. */
  fraction?: number;
}

/** Reporting and cancellation hooks that long-running core functions accept. */
export interface WorkContext {
  onProgress?: (p: Progress) => void;
  /**
   * The report so far, while the analysis refines it: first the first answer (`run.phase`
   * 'first-answer'), then refinements ('refining', at most one a second). The final report is the
   * work's result, not one of these. Views show the latest; a cancel keeps it.
   */
  onPartial?: (report: AnalysisReport) => void;
  signal?: AbortSignal;
  /**
   * Lets pending events run (a worker's incoming cancel message). Work that runs synchronous native
   * calls back to back never reaches the event loop otherwise.
   */
  yieldToEventLoop?: () => Promise<void>;
}

/** Between steps of long work: lets events in, then throws if the work was cancelled. */
export async function checkpoint(ctx: WorkContext | undefined): Promise<void> {
  await ctx?.yieldToEventLoop?.();
  throwIfCancelled(ctx);
}

/** Throws a 'cancelled' {@link DoctorError} when the work was cancelled. */
export function throwIfCancelled(ctx: WorkContext | undefined): void {
  if (ctx?.signal?.aborted) throw new DoctorError('cancelled', 'the analysis was cancelled');
}

/**
 * Wraps a runner factory so that, once the work is cancelled, no session is created and no run
 * starts: a cancel is then observed at the next onnxruntime run however deep in the analysis it is
 * (a Lanczos loop, a curvature iteration), not only between layers. A run already in flight
 * finishes; its caller sees the cancel at its next run or checkpoint.
 */
export function cancellableRunners(createRunner: RunnerFactory, ctx: WorkContext | undefined): RunnerFactory {
  if (!ctx?.signal) return createRunner;
  const refuse = () => throwIfCancelled(ctx);
  return withRunHooks(createRunner, { beforeSession: refuse, beforeRun: refuse });
}
