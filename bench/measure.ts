/**
 * One benchmark measurement in a process of its own, so that its peak memory is its own: analyses
 * the model with the default options (one sample) and prints one JSON line with the wall time,
 * layers, onnxruntime runs and sessions, and the peak resident set size.
 * Usage: node --import tsx bench/measure.ts MODEL [INPUT.npy]
 */
import { analyzeModel, DEFAULT_ANALYZE_OPTIONS } from '../src/core/analysis/analyze';
import { DEFAULT_SAMPLE_OPTIONS } from '../src/core/inputs/prepare';
import { withRunHooks } from '../src/core/ports';
import { readFileSync } from 'node:fs';
import { loadModelFile } from '../src/runtime/modelFile';
import { createOrtRunner, ORT_VERSION } from '../src/runtime/ort';

async function main(): Promise<void> {
  const [file, input] = process.argv.slice(2);
  let sessions = 0;
  let runs = 0;
  const counting = withRunHooks(createOrtRunner, { beforeSession: () => sessions++, beforeRun: () => runs++ });
  const t0 = performance.now();
  const samples = { ...DEFAULT_SAMPLE_OPTIONS, files: input ? [{ name: input, bytes: readFileSync(input) }] : undefined };
  const r = await analyzeModel(loadModelFile(file), { ...DEFAULT_ANALYZE_OPTIONS, executionProvider: 'auto', samples }, counting, { ort: ORT_VERSION, tool: 'bench' });
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ seconds, layers: r.layers.length, runs, sessions, peakMiB: process.resourceUsage().maxRSS / 1024, ep: r.run.executionProvider }));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
