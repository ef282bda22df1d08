/**
 * `npm run bench`: analyses the fixture models and the benchmark models (MLPs of depth 10 to 80,
 * torchvision's resnet18 at 224x224; with --real, torchvision architectures at 64x64 and small
 * pre-norm transformers exported by bench/export_models.py) and prints wall time, time to the first
 * answer, onnxruntime runs and sessions, and peak memory beside the analysis's estimate, each
 * model measured in a process of its own;
 * where Debian's python3-torch is installed, bench/torch_bench.py exports the benchmark models and
 * times a PyTorch autograd analysis that computes the same figures the same way, and the ratio is
 * printed beside ours.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const PYTHON = '/usr/bin/python3';

interface Row {
  model: string;
  seconds: number;
  firstAnswerSeconds: number;
  layers: number;
  runs: number;
  sessions: number;
  peakMiB: number;
  estimateMiB?: number;
  torchSeconds?: number;
}

function measure(model: string, file: string, inputs?: string): Row {
  const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'measure.ts'), file, ...(inputs ? [inputs] : [])], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = child.stdout.split('\n').find((l) => l.startsWith('{'));
  if (child.status !== 0 || !line) throw new Error(`${model}: ${child.stderr.slice(-1000)}`);
  return { model, ...(JSON.parse(line) as Omit<Row, 'model'>) };
}

function print(rows: Row[]): void {
  const head = ['model', 'layers', 'ours (s)', 'first answer (s)', 'ORT runs', 'sessions', 'peak MiB', 'estimate MiB', 'PyTorch (s)', 'speed-up'];
  const lines = rows.map((r) => [
    r.model, String(r.layers), r.seconds.toFixed(2), r.firstAnswerSeconds.toFixed(2), String(r.runs), String(r.sessions), r.peakMiB.toFixed(0),
    r.estimateMiB !== undefined ? String(r.estimateMiB) : '—',
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
    rows.push(measure(name, path.join(ROOT, 'test', 'fixtures', 'models', `${name}.onnx`)));
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
      const row = measure(t.model, t.onnx, t.input);
      row.torchSeconds = t.torchSeconds;
      rows.push(row);
      console.error(`done ${t.model}`);
    }
  }
  const real = process.argv.find((a) => a.startsWith('--real='))?.slice('--real='.length);
  if (real !== undefined) {
    const out = mkdtempSync(path.join(tmpdir(), 'gd-bench-real-'));
    const py = spawnSync(PYTHON, [path.join(ROOT, 'bench', 'export_models.py'), '--out', out, ...(real ? ['--models', real] : [])], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (py.status !== 0) console.error(py.stderr.slice(-2000));
    for (const line of py.stdout.split('\n').filter((l) => l.startsWith('{'))) {
      const t = JSON.parse(line) as { model: string; onnx?: string; error?: string };
      if (!t.onnx) {
        console.error(`${t.model}: not exported (${t.error})`);
        continue;
      }
      try {
        rows.push(measure(t.model, t.onnx));
        console.error(`done ${t.model}`);
      } catch (e) {
        console.error(e instanceof Error ? e.message : e);
      }
    }
  }
  print(rows);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
