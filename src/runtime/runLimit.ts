import { Worker } from 'node:worker_threads';

/**
 * A time limit on onnxruntime's native calls. onnxruntime-node runs a model synchronously on the
 * calling thread, and nothing can interrupt it there (its RunOptions.terminate flag lives in a
 * per-call object that JavaScript never sees again), so a Loop with 2^40 iterations would hold
 * the process forever. A watchdog thread waits on shared memory instead: each guarded call arms
 * it, each return re-arms it, and when no guarded call has returned for the limit while one is
 * in flight, it writes the message to stderr and ends the process with SIGALRM. That is the one
 * clean way to stop a native run: the CPU is freed at once and nothing half-done is written (the
 * CLI writes its output only at the end; the extension's worker is a process of its own, and the
 * extension reports the signal as the time limit).
 */

/** The signal that ends a process whose onnxruntime call ran past its time limit. */
export const TIME_LIMIT_SIGNAL = 'SIGALRM';

/** Default limit on one onnxruntime call (session creation or run), in seconds. */
export const DEFAULT_RUN_TIMEOUT_SECONDS = 300;

const GENERATION = 0;
const ACTIVE = 1;
const LIMIT_MS = 2;
const MESSAGE_LENGTH = 3;
const MESSAGE_BYTES = 8192;

interface Watchdog {
  state: Int32Array;
  message: Uint8Array;
  lastMessage: string;
}

let watchdog: Watchdog | undefined;

// Runs in the watchdog thread: plain JavaScript, no imports from the bundle.
const WATCHDOG_SOURCE = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const state = new Int32Array(workerData.state);
const message = new Uint8Array(workerData.message);
for (;;) {
  const generation = Atomics.load(state, ${GENERATION});
  if (Atomics.load(state, ${ACTIVE}) === 0) { Atomics.wait(state, ${GENERATION}, generation); continue; }
  const limit = Atomics.load(state, ${LIMIT_MS});
  const woke = Atomics.wait(state, ${GENERATION}, generation, limit);
  if (woke === 'timed-out' && Atomics.load(state, ${GENERATION}) === generation && Atomics.load(state, ${ACTIVE}) > 0) {
    try { writeSync(2, message.subarray(0, Atomics.load(state, ${MESSAGE_LENGTH}))); } catch {}
    process.kill(process.pid, '${TIME_LIMIT_SIGNAL}');
    Atomics.wait(state, ${GENERATION}, generation);
  }
}
`;

function start(): Watchdog {
  if (watchdog) return watchdog;
  const state = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
  const message = new Uint8Array(new SharedArrayBuffer(MESSAGE_BYTES));
  const worker = new Worker(WATCHDOG_SOURCE, { eval: true, workerData: { state: state.buffer, message: message.buffer } });
  worker.unref();
  watchdog = { state, message, lastMessage: '' };
  return watchdog;
}

function setMessage(w: Watchdog, text: string): void {
  if (text === w.lastMessage) return;
  const bytes = new TextEncoder().encode(text.endsWith('\n') ? text : text + '\n');
  const n = Math.min(bytes.byteLength, MESSAGE_BYTES);
  w.message.set(bytes.subarray(0, n));
  Atomics.store(w.state, MESSAGE_LENGTH, n);
  w.lastMessage = text;
}

function bump(w: Watchdog, activeDelta: number): void {
  Atomics.add(w.state, ACTIVE, activeDelta);
  Atomics.add(w.state, GENERATION, 1);
  Atomics.notify(w.state, GENERATION);
}

/**
 * Runs `call` (an onnxruntime call) under the time limit `limitMs`: when no guarded call returns
 * within it, `message` goes to stderr and the process ends (see above). A limit of 0 or less, or
 * not finite, means no limit.
 */
export async function withTimeLimit<T>(limitMs: number, message: string, call: () => Promise<T>): Promise<T> {
  if (!(limitMs > 0) || !Number.isFinite(limitMs)) return call();
  const w = start();
  setMessage(w, message);
  Atomics.store(w.state, LIMIT_MS, Math.min(Math.ceil(limitMs), 2 ** 31 - 1));
  bump(w, 1);
  try {
    return await call();
  } finally {
    bump(w, -1);
  }
}

/** The message printed when a call runs past `seconds` on the model `file`. */
export function timeLimitMessage(file: string, seconds: number): string {
  return `gradient-doctor: error: ${file}: onnxruntime ran for more than ${seconds} s in one call (the run time limit) and was stopped; `
    + 'it cannot be interrupted inside a run, so Gradient Doctor ended. A model can loop for ever (a Loop with a huge trip count); '
    + 'if yours is only slow, raise the limit with --run-timeout <seconds> (VS Code: gradientDoctor.runTimeoutSeconds), or 0 for none.';
}
