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
import { createOrtRunner, ORT_VERSION } from '../src/runtime/ort';

async function main(): Promise<void> {
  const [file, input] = process.argv.slice(2);
  const samples = { ...DEFAULT_SAMPLE_OPTIONS, files: input ? [{ name: input, bytes: readFileSync(input) }] : undefined };
  let sessions = 0;
  let runs = 0;
  const counting = withRunHooks(createOrtRunner, { beforeSession: () => sessions++, beforeRun: () => runs++ });
  const t0 = performance.now();
  const r = await analyzeModel(loadModelFile(file), { ...DEFAULT_ANALYZE_OPTIONS, executionProvider: 'auto', samples }, counting, { ort: ORT_VERSION, tool: 'bench' }, { onPartial: () => undefined });
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
  }));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
