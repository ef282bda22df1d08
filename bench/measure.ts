/**
 * One benchmark measurement in a process of its own, so that its peak memory is its own: analyses
 * the model with the default options (one sample) and prints one JSON line with the wall time,
 * the time to the first answer, layers, onnxruntime runs and sessions, the peak resident set size
 * beside the analysis's own estimate, and the floor: the FLOPs of every run the analysis made
 * (counted from each run's graph, bench/flops.ts) divided by the FLOP rate onnxruntime reaches on
 * the model's plain forward pass here.
 * Usage: node --import tsx bench/measure.ts MODEL [INPUT.npy]
 */
import { readFileSync } from 'node:fs';
import { analyzeModel, DEFAULT_ANALYZE_OPTIONS } from '../src/core/analysis/analyze';
import { DEFAULT_SAMPLE_OPTIONS, prepareSamples } from '../src/core/inputs/prepare';
import type { RunnerFactory } from '../src/core/ports';
import { loadModelFile } from '../src/runtime/modelFile';
import { createOrtRunner, ORT_VERSION } from '../src/runtime/ort';
import { modelFlops } from './flops';

/** onnxruntime's FLOP rate on the model's plain forward pass: the best of several timed runs after a warm-up. */
async function forwardRate(file: string, samples: typeof DEFAULT_SAMPLE_OPTIONS): Promise<{ flops: number; rate: number }> {
  const { model } = loadModelFile(file);
  const sample = prepareSamples(model, samples, file).samples[0];
  const flops = modelFlops(model, new Map(Object.entries(sample).map(([k, v]) => [k, v.dims])));
  const runner = await createOrtRunner(model, { executionProvider: 'auto' });
  try {
    await runner.run(sample);
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await runner.run(sample);
      best = Math.min(best, (performance.now() - t) / 1000);
    }
    return { flops, rate: flops / best };
  } finally {
    await runner.dispose();
  }
}

async function main(): Promise<void> {
  const [file, input] = process.argv.slice(2);
  const samples = { ...DEFAULT_SAMPLE_OPTIONS, files: input ? [{ name: input, bytes: readFileSync(input) }] : undefined };
  let sessions = 0;
  let runs = 0;
  let flops = 0;
  const counting: RunnerFactory = async (model, options) => {
    sessions++;
    const runner = await createOrtRunner(model, options);
    const perShape = new Map<string, number>();
    return {
      get executionProvider() { return runner.executionProvider; },
      get inputNames() { return runner.inputNames; },
      get outputNames() { return runner.outputNames; },
      run: async (feeds, fetches) => {
        runs++;
        const dims = new Map(Object.entries(feeds).map(([k, v]) => [k, v.dims]));
        const key = JSON.stringify([...dims]);
        if (!perShape.has(key)) perShape.set(key, modelFlops(model, dims));
        flops += perShape.get(key) as number;
        return runner.run(feeds, fetches);
      },
      dispose: () => runner.dispose(),
    };
  };
  const t0 = performance.now();
  const r = await analyzeModel(loadModelFile(file), { ...DEFAULT_ANALYZE_OPTIONS, executionProvider: 'auto', samples }, counting, { ort: ORT_VERSION, tool: 'bench' }, { onPartial: () => undefined });
  const seconds = (performance.now() - t0) / 1000;
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  const forward = await forwardRate(file, samples);
  console.log(JSON.stringify({
    seconds,
    firstAnswerSeconds: (r.run.firstAnswerMs ?? NaN) / 1000,
    layers: r.layers.length,
    runs,
    sessions,
    peakMiB,
    estimateMiB: r.run.memory?.estimateMB,
    gflops: flops / 1e9,
    floorSeconds: flops / forward.rate,
    forwardGflopsPerSecond: forward.rate / 1e9,
    ep: r.run.executionProvider,
  }));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
