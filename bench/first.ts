/**
 * The first answer alone, for profiling it: analyses MODEL with the default options (one sample)
 * and stops at the first answer; prints the seconds per phase up to it.
 * Usage: node [--cpu-prof] --import tsx bench/first.ts MODEL
 */
import { analyzeModel, DEFAULT_ANALYZE_OPTIONS } from '../src/core/analysis/analyze';
import { DEFAULT_SAMPLE_OPTIONS } from '../src/core/inputs/prepare';
import { loadModelFile } from '../src/runtime/modelFile';
import { ORT_VERSION } from '../src/runtime/ort';
import { timedOrtRunner } from './sessions';

async function main(): Promise<void> {
  const file = process.argv[2];
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  let phase = 'load';
  let since = t0;
  const abort = new AbortController();
  const onProgress = ({ message }: { message: string }) => {
    const now = performance.now();
    phases[phase] = (phases[phase] ?? 0) + (now - since) / 1000;
    phase = message.split(/[:\d]/)[0].trim();
    since = now;
  };
  const onPartial = () => {
    onProgress({ message: 'end' });
    console.log(JSON.stringify({ firstAnswerSeconds: (performance.now() - t0) / 1000, phases: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Math.round(v * 100) / 100])) }));
    abort.abort();
  };
  await analyzeModel(loadModelFile(file), { ...DEFAULT_ANALYZE_OPTIONS, executionProvider: 'auto', samples: DEFAULT_SAMPLE_OPTIONS }, timedOrtRunner, { ort: ORT_VERSION, tool: 'bench' }, { onPartial, onProgress, signal: abort.signal }).catch(() => undefined);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
