/**
 * `npm run bench`: analyses the fixture models and the benchmark models (MLPs of depth 10 to 80,
 * torchvision's resnet18 at 224x224) and prints wall time, time per layer, derivative runs and peak
 * memory; where Debian's python3-torch is installed, bench/torch_bench.py exports the benchmark
 * models and times a PyTorch autograd analysis that computes the same figures the same way, and the
 * ratio is printed beside ours.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { analyzeFile } from '../src/runtime/engine';

const ROOT = path.resolve(__dirname, '..');
const PYTHON = '/usr/bin/python3';

interface Row {
  model: string;
  seconds: number;
  layers: number;
  runs: number;
  peakMiB: number;
  torchSeconds?: number;
}

async function measure(model: string, file: string, inputs?: string): Promise<Row> {
  const t0 = performance.now();
  const r = await analyzeFile(file, { executionProvider: 'auto', samples: { count: 1, seed: 0, distribution: 'normal', dimensions: {}, files: inputs ? [inputs] : undefined } });
  const seconds = (performance.now() - t0) / 1000;
  return { model, seconds, layers: r.layers.length, runs: r.run.derivativeRuns, peakMiB: process.resourceUsage().maxRSS / 1024 };
}

function print(rows: Row[]): void {
  const head = ['model', 'layers', 'ours (s)', 's/layer', 'ORT runs', 'peak MiB', 'PyTorch (s)', 'speed-up'];
  const lines = rows.map((r) => [
    r.model, String(r.layers), r.seconds.toFixed(2), (r.seconds / Math.max(r.layers, 1)).toFixed(3), String(r.runs), r.peakMiB.toFixed(0),
    r.torchSeconds !== undefined ? r.torchSeconds.toFixed(2) : '—', r.torchSeconds !== undefined ? `${(r.torchSeconds / r.seconds).toFixed(2)}x` : '—',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(w[i])).join('  ');
  console.log(fmt(head));
  for (const l of lines) console.log(fmt(l));
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const name of ['mlp_sigmoid', 'mlp_tanh_overscaled', 'resnet_small', 'lstm', 'transformer']) {
    rows.push(await measure(name, path.join(ROOT, 'test', 'fixtures', 'models', `${name}.onnx`)));
    console.error(`done ${name}`);
  }
  const only = process.argv.find((a) => a.startsWith('--models='))?.slice('--models='.length) ?? 'mlp10,mlp20,mlp40,mlp80,resnet18';
  if (!existsSync(PYTHON) || spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' }).status !== 0) {
    console.error('PyTorch (Debian python3-torch, python3-torchvision) is not installed: the benchmark models and the comparison are skipped.');
  } else {
    const out = mkdtempSync(path.join(tmpdir(), 'gd-bench-'));
    console.error(`PyTorch side: exporting and timing ${only} (this takes a while) ...`);
    const py = spawnSync(PYTHON, [path.join(ROOT, 'bench', 'torch_bench.py'), '--out', out, '--models', only], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (py.status !== 0) console.error(py.stderr.slice(-2000));
    for (const line of py.stdout.split('\n').filter((l) => l.startsWith('{'))) {
      const t = JSON.parse(line) as { model: string; torchSeconds: number; onnx: string; input: string };
      console.error(`PyTorch ${t.model}: ${t.torchSeconds.toFixed(2)} s`);
      const row = await measure(t.model, t.onnx, t.input);
      row.torchSeconds = t.torchSeconds;
      rows.push(row);
      console.error(`done ${t.model}`);
    }
  }
  print(rows);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
