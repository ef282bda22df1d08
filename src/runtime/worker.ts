/**
 * The analysis worker: a child process that owns onnxruntime and every numerical computation, so
 * the extension host's thread never blocks. Started by {@link WorkerClient}; speaks the typed
 * protocol in src/protocol/worker.ts over Node IPC.
 */
import { isDoctorError, errorMessage } from '../core/errors';
import type { WorkerReply, WorkerRequest, WorkerResults, WorkKind } from '../protocol/worker';
import type { WorkOptions } from '../protocol/worker';
import { analyzeFile, compareFiles, inspectFile, outlineFile, whatIfFile } from './engine';

const running = new Map<number, AbortController>();

function send(msg: WorkerReply): void {
  process.send?.(msg);
}

const handlers: { [K in WorkKind]: (path: string, options: WorkOptions, ctx: Parameters<typeof analyzeFile>[2]) => Promise<WorkerResults[K]> } = {
  inspect: inspectFile,
  analyze: analyzeFile,
  whatIf: (path, options, ctx) => whatIfFile(path, { fixes: options.whatIf?.fixes ?? [] }, options, ctx),
  outline: async (path, options) => outlineFile(path, options.outlineLayers),
  compare: (path, options, ctx) => {
    if (!options.compareWith) throw new Error('compare needs the candidate model (compareWith)');
    return compareFiles(path, options.compareWith, options, ctx);
  },
};

async function start(msg: Extract<WorkerRequest, { type: 'work/start' }>): Promise<void> {
  const controller = new AbortController();
  running.set(msg.id, controller);
  try {
    const result = await handlers[msg.kind](msg.path, msg.options, {
      signal: controller.signal,
      yieldToEventLoop: () => new Promise((resolve) => setImmediate(resolve)),
      onProgress: (progress) => send({ type: 'work/progress', id: msg.id, progress }),
      onPartial: (report) => send({ type: 'work/partial', id: msg.id, report }),
    });
    send({ type: 'work/result', id: msg.id, result });
  } catch (e) {
    const error = isDoctorError(e)
      ? { kind: e.kind, message: e.message, file: e.file }
      : { kind: 'runtime' as const, message: `internal error, a bug in Gradient Doctor (please report it with the log): ${errorMessage(e)}`, stack: e instanceof Error ? e.stack : undefined };
    send({ type: 'work/error', id: msg.id, error });
  } finally {
    running.delete(msg.id);
  }
}

process.on('message', (msg: WorkerRequest) => {
  switch (msg.type) {
    case 'work/start':
      void start(msg);
      break;
    case 'work/cancel':
      running.get(msg.id)?.abort();
      break;
    case 'worker/crash':
      process.kill(process.pid, 'SIGSEGV');
      break;
    default: {
      const exhaustive: never = msg;
      send({ type: 'log', level: 'warn', message: `unknown request ${JSON.stringify(exhaustive)}` });
    }
  }
});

process.on('disconnect', () => process.exit(0));
send({ type: 'worker/ready', pid: process.pid });
