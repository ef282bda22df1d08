/**
 * One benchmark measurement in a process of its own, so that its peak memory is its own: analyses
 * the model with the default options (one sample) and prints one JSON line with the wall time,
 * the time to the first answer, layers, onnxruntime runs and sessions, the peak resident set size
 * beside the analysis's own estimate.
 * Usage: node --import tsx bench/measure.ts MODEL [INPUT.npy]
 */
import { readFileSync } from 'node:fs';
import { analyzeModel, DEFAULT_ANALYZE_OPTIONS } from '../src/core/analysis/analyze';
import { DEFAULT_SAMPLE_OPTIONS } from '../src/core/inputs/prepare';
import { withRunHooks } from '../src/core/ports';
import { loadModelFile } from '../src/runtime/modelFile';
import { ORT_VERSION } from '../src/runtime/ort';
import { timedOrtRunner } from './sessions';

async function main(): Promise<void> {
  const [file, input] = process.argv.slice(2);
  const samples = { ...DEFAULT_SAMPLE_OPTIONS, files: input ? [{ name: input, bytes: readFileSync(input) }] : undefined };
  let sessions = 0;
  let runs = 0;
  const counting = withRunHooks(timedOrtRunner, { beforeSession: () => sessions++, beforeRun: () => runs++ });
  const t0 = performance.now();
  // seconds per phase: the progress message's kind, from one message to the next
  const phases: Record<string, number> = {};
  let phase = 'load';
  let since = t0;
  const onProgress = ({ message }: { message: string }) => {
    const now = performance.now();
    phases[phase] = (phases[phase] ?? 0) + (now - since) / 1000;
    phase = phaseOf(message);
    since = now;
  };
  const r = await analyzeModel(loadModelFile(file), { ...DEFAULT_ANALYZE_OPTIONS, executionProvider: 'auto', samples }, counting, { ort: ORT_VERSION, tool: 'bench' }, { onPartial: () => undefined, onProgress });
  onProgress({ message: 'end' });
  const seconds = (performance.now() - t0) / 1000;
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({
    seconds,
    firstAnswerSeconds: (r.run.firstAnswerMs ?? NaN) / 1000,
    layers: r.layers.length,
    runs,
    sessions,
    peakMiB,
    estimateMiB: r.run.memory?.estimateMB,
    ep: r.run.executionProvider,
    phases: Object.fromEntries(Object.entries(phases).filter(([k]) => k !== 'end').map(([k, v]) => [k, Math.round(v * 100) / 100])),
  }));
}

/** The phase a progress message belongs to. */
function phaseOf(message: string): string {
  if (message.startsWith('Probing layer')) return 'layer probes';
  if (message.startsWith('First answer')) return 'first look';
  if (/forward pass/.test(message)) return 'forward';
  if (/gradient flow/.test(message)) return 'gradient flow and exact layers';
  if (/end-to-end/.test(message)) return 'end to end';
  if (message.startsWith('Weights')) return 'conv norms';
  if (message.startsWith('Curvature')) return 'curvature';
  if (message.startsWith('BatchNorm')) return 'batchnorm';
  if (message.startsWith('Preparing')) return 'samples';
  return message.split(':')[0];
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
