import { fork, type ChildProcess } from 'node:child_process';
import { DoctorError } from '../core/errors';
import type { Progress } from '../core/progress';
import type { AnalysisReport } from '../core/report/types';
import type { SerializedError, WorkerReply, WorkerRequest, WorkerResults, WorkKind, WorkOptions } from '../protocol/worker';
import { TIME_LIMIT_SIGNAL } from './runLimit';

/** Options for {@link WorkerClient}. */
export interface WorkerClientOptions {
  /** The bundled worker script (dist/worker.js). */
  workerPath: string;
  /** Receives the worker's log lines and lifecycle events. */
  log?: (line: string) => void;
  /** After a cancel, how long the worker may take to stop before it is killed. Default 1000 ms. */
  cancelGraceMs?: number;
  /** With no message from the worker for this long during work, it is deemed hung and killed. Default 10 min. */
  stallTimeoutMs?: number;
}

/** Hooks for one request. */
export interface RunHooks {
  onProgress?: (p: Progress) => void;
  /** The report so far while an analysis refines (see WorkContext.onPartial). */
  onPartial?: (report: AnalysisReport) => void;
  signal?: AbortSignal;
}

interface Pending {
  kind: WorkKind;
  path: string;
  options: WorkOptions;
  /** The worker process the request was sent to. */
  child: ChildProcess;
  resolve: (v: never) => void;
  reject: (e: Error) => void;
  onProgress?: (p: Progress) => void;
  onPartial?: (report: AnalysisReport) => void;
  stallTimer?: NodeJS.Timeout;
}

/**
 * The host side of the worker: starts the worker process lazily on first use, correlates requests
 * and replies, forwards progress, cancels (softly, then by killing the process), and turns a crash
 * or hang of the worker into an error for every pending request; the next request starts a fresh
 * worker.
 */
export class WorkerClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Cancelled requests the worker has not yet acknowledged, with the timer that kills it if it never does. */
  private readonly cancelling = new Map<number, NodeJS.Timeout>();
  /** Workers killed because a cancelled request did not stop: their other requests are re-run, not failed. */
  private readonly killedForCancel = new WeakSet<ChildProcess>();
  private readonly log: (line: string) => void;

  constructor(private readonly options: WorkerClientOptions) {
    this.log = options.log ?? (() => undefined);
  }

  /** The worker's process id, when one is running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Requests in flight. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Cancelled requests whose stop the worker has not yet acknowledged. */
  get unacknowledgedCancels(): number {
    return this.cancelling.size;
  }

  /** Runs work `kind` on the model at `path` in the worker. Rejects with a {@link DoctorError}. */
  run<K extends WorkKind>(kind: K, path: string, options: WorkOptions, hooks: RunHooks = {}): Promise<WorkerResults[K]> {
    if (hooks.signal?.aborted) return Promise.reject(new DoctorError('cancelled', 'the analysis was cancelled'));
    const child = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<WorkerResults[K]>((resolve, reject) => {
      const entry: Pending = { kind, path, options, child, resolve: resolve as (v: never) => void, reject, onProgress: hooks.onProgress, onPartial: hooks.onPartial };
      this.pending.set(id, entry);
      this.armStallTimer(id);
      hooks.signal?.addEventListener('abort', () => this.cancel(id), { once: true });
      this.send(child, { type: 'work/start', id, kind, path, options });
    });
  }

  /** Makes the worker crash (test hook for the crash-recovery path). */
  crashForTest(): void {
    if (this.child) this.send(this.child, { type: 'worker/crash' });
  }

  /** Stops the worker; pending requests fail. */
  dispose(): void {
    const child = this.child;
    this.child = undefined;
    child?.kill();
    this.failAll(new DoctorError('cancelled', 'the analysis worker was shut down'));
  }

  /**
   * Rejects request `id` at once as cancelled and asks the worker to stop it; a worker that has not
   * stopped within the grace period is killed (the next request starts a fresh one).
   */
  private cancel(id: number): void {
    const child = this.child;
    if (!child || !this.pending.has(id)) return;
    this.settle(id, new DoctorError('cancelled', 'the analysis was cancelled'));
    this.send(child, { type: 'work/cancel', id });
    const grace = this.options.cancelGraceMs ?? 1000;
    const timer = setTimeout(() => {
      this.cancelling.delete(id);
      if (this.child === child) {
        this.log(`worker did not stop within ${grace} ms of a cancel; killing it`);
        this.killedForCancel.add(child);
        this.kill(child);
      }
    }, grace);
    timer.unref();
    this.cancelling.set(id, timer);
  }

  /** True (and forgets it) when `id` was cancelled and this is the worker's late reply. */
  private acknowledgeCancel(id: number): boolean {
    const timer = this.cancelling.get(id);
    if (!timer) return false;
    clearTimeout(timer);
    this.cancelling.delete(id);
    return true;
  }

  private ensureWorker(): ChildProcess {
    if (this.child && this.child.connected) return this.child;
    const child = fork(this.options.workerPath, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    this.child = child;
    this.log(`started analysis worker (pid ${child.pid})`);
    child.stdout?.on('data', (d: Buffer) => this.log(`[worker] ${d.toString().trimEnd()}`));
    child.stderr?.on('data', (d: Buffer) => this.log(`[worker] ${d.toString().trimEnd()}`));
    child.on('message', (msg: WorkerReply) => this.onMessage(msg));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    child.on('error', (e) => this.log(`worker error: ${e.message}`));
    return child;
  }

  private onMessage(msg: WorkerReply): void {
    switch (msg.type) {
      case 'worker/ready':
        this.log(`analysis worker ready (pid ${msg.pid})`);
        break;
      case 'work/progress':
        this.armStallTimer(msg.id);
        this.pending.get(msg.id)?.onProgress?.(msg.progress);
        break;
      case 'work/partial':
        this.armStallTimer(msg.id);
        this.pending.get(msg.id)?.onPartial?.(msg.report);
        break;
      case 'work/result': {
        if (this.acknowledgeCancel(msg.id)) break;
        const p = this.pending.get(msg.id);
        this.clear(msg.id);
        p?.resolve(msg.result as never);
        break;
      }
      case 'work/error':
        if (this.acknowledgeCancel(msg.id)) break;
        this.settle(msg.id, deserialize(msg.error));
        break;
      case 'log':
        this.log(`[worker ${msg.level}] ${msg.message}`);
        break;
      default: {
        const exhaustive: never = msg;
        this.log(`unknown worker message ${JSON.stringify(exhaustive)}`);
      }
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child === child) this.child = undefined;
    const how = signal ? `was killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory?)' : ''}` : `exited with code ${code}`;
    this.log(`analysis worker ${how}`);
    for (const [id, p] of [...this.pending]) {
      if (p.child !== child) continue;
      if (this.killedForCancel.has(child)) {
        // an innocent request that shared the worker with a cancelled one: run it again on a fresh worker
        const fresh = this.ensureWorker();
        p.child = fresh;
        this.log(`re-running request ${id} (${p.kind} ${p.path}) on a fresh worker`);
        this.armStallTimer(id);
        this.send(fresh, { type: 'work/start', id, kind: p.kind, path: p.path, options: p.options });
        continue;
      }
      this.settle(id, signal === TIME_LIMIT_SIGNAL
        ? new DoctorError('time-limit', 'onnxruntime ran past the run time limit (the gradientDoctor.runTimeoutSeconds setting) on this model and was stopped; a model can loop for ever, and a slow one needs a higher limit', p.path)
        : new DoctorError('runtime', `the analysis worker ${how} while working on this model; the next analysis starts a fresh worker. See "Gradient Doctor: Show Log".`, p.path));
    }
  }

  private armStallTimer(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    if (p.stallTimer) clearTimeout(p.stallTimer);
    const ms = this.options.stallTimeoutMs ?? 10 * 60 * 1000;
    const child = this.child;
    p.stallTimer = setTimeout(() => {
      this.log(`no progress from the worker for ${ms} ms; killing it`);
      this.settle(id, new DoctorError('runtime', `the analysis worker stopped responding (no progress for ${Math.round(ms / 1000)} s) and was restarted`, p.path));
      if (child) this.kill(child);
    }, ms);
    p.stallTimer.unref();
  }

  private kill(child: ChildProcess): void {
    if (this.child === child) this.child = undefined;
    child.kill('SIGKILL');
  }

  private settle(id: number, error: Error): void {
    const p = this.pending.get(id);
    this.clear(id);
    p?.reject(error);
  }

  private clear(id: number): void {
    const p = this.pending.get(id);
    if (p?.stallTimer) clearTimeout(p.stallTimer);
    this.pending.delete(id);
  }

  private failAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, error);
  }

  private send(child: ChildProcess, msg: WorkerRequest): void {
    child.send(msg);
  }
}

function deserialize(e: SerializedError): DoctorError {
  const err = new DoctorError(e.kind, e.file && e.message.startsWith(e.file) ? e.message.slice(e.file.length + 2) : e.message, e.file);
  if (e.stack) err.stack = e.stack;
  return err;
}
