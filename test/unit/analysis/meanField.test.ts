import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Rng } from '../../../src/core/inputs/rng';
import { encodeModel } from '../../../src/core/onnx/encode';
import { float32Tensor } from '../../../src/core/onnx/tensorData';
import { DataType, type Model, type Node } from '../../../src/core/onnx/types';
import { analyzeFile } from '../../../src/runtime/engine';

/**
 * Mean-field theory of deep tanh networks (Poole et al. 2016; Schoenholz et al. 2017): with weights
 * N(0, sigma_w^2 / N) and biases N(0, sigma_b^2), the pre-activation variance converges to the
 * fixed point q* of q -> sigma_w^2 E[tanh(sqrt(q) z)^2] + sigma_b^2, and every layer's Jacobian
 * D W has mean squared singular value chi_1 = sigma_w^2 E[tanh'(sqrt(q*) z)^2]: the rms gain
 * concentrates at sqrt(chi_1), the Lyapunov exponent at log(chi_1) / 2. chi_1 < 1 is the ordered
 * phase (gradients vanish), chi_1 > 1 the chaotic one (they explode), chi_1 = 1 the edge of chaos.
 */
const WIDTH = 200;
const DEPTH = 24;
/** The first layers, whose variance depends on the one sample's own variance, left out of the comparison. */
const BURN_IN = 2;

/** E[f(z)] for z ~ N(0, 1), by the trapezoid rule on [-10, 10] (error far below the tolerances here). */
function gaussian(f: (z: number) => number): number {
  const n = 4000;
  const h = 20 / n;
  let s = 0;
  for (let i = 0; i <= n; i++) {
    const z = -10 + i * h;
    s += (i === 0 || i === n ? 0.5 : 1) * f(z) * Math.exp(-z * z / 2);
  }
  return (s * h) / Math.sqrt(2 * Math.PI);
}

const slope2 = (x: number) => (1 - Math.tanh(x) ** 2) ** 2;

/**
 * Layer by layer from the input's variance 1: q_1 = sigma_w^2 + sigma_b^2 and the variance map
 * after it (it reaches the fixed point q* within a few layers, except at sigma_b = 0 where q* = 0
 * is approached like 1 / l), chi_l = sigma_w^2 E[tanh'(sqrt(q_l) z)^2], and the relative standard
 * deviation of one layer's mean squared singular value at width N.
 */
function theory(sw2: number, sb2: number): Array<{ chi: number; relSd: number }> {
  const out = [];
  let q = sw2 + sb2;
  for (let l = 0; l < DEPTH; l++) {
    const m1 = gaussian((z) => slope2(Math.sqrt(q) * z));
    const m2 = gaussian((z) => slope2(Math.sqrt(q) * z) ** 2);
    // (1/N) sum_i D_i^2 sum_j W_ij^2: the N slopes vary with variance m2 - m1^2, and each row's
    // sum of N squared Gaussians has relative variance 2 / N, so chi's relative variance is
    // ((m2 - m1^2) / m1^2 + 2 / N) / N
    out.push({ chi: sw2 * m1, relSd: Math.sqrt(((m2 - m1 * m1) / (m1 * m1) + 2 / WIDTH) / WIDTH) });
    q = sw2 * gaussian((z) => Math.tanh(Math.sqrt(q) * z) ** 2) + sb2;
  }
  return out;
}

/** A deep tanh MLP with the mean-field initialisation, as onnxruntime runs it. */
function tanhMlp(sw2: number, sb2: number, seed: number): string {
  const rng = new Rng(seed);
  const nodes: Node[] = [];
  const initializers = new Map<string, ReturnType<typeof float32Tensor>>();
  let x = 'x';
  for (let l = 0; l < DEPTH; l++) {
    const w = `layers.${l}.weight`;
    const b = `layers.${l}.bias`;
    initializers.set(w, float32Tensor(w, [WIDTH, WIDTH], Array.from({ length: WIDTH * WIDTH }, () => rng.normal() * Math.sqrt(sw2 / WIDTH))));
    initializers.set(b, float32Tensor(b, [WIDTH], Array.from({ length: WIDTH }, () => rng.normal() * Math.sqrt(sb2))));
    const h = `h${l}`;
    const y = l === DEPTH - 1 ? 'y' : `a${l}`;
    nodes.push({ name: `/layers.${l}/Gemm`, opType: 'Gemm', domain: '', inputs: [x, w, b], outputs: [h], attributes: [{ name: 'transB', type: 'int', value: 1 }], metadata: {} });
    nodes.push({ name: `/layers.${l}/Tanh`, opType: 'Tanh', domain: '', inputs: [h], outputs: [y], attributes: [], metadata: {} });
    x = y;
  }
  const io = (name: string) => ({ name, type: { kind: 'tensor' as const, elemType: DataType.FLOAT, shape: [1, WIDTH] } });
  const model: Model = {
    irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 'mean-field test', producerVersion: '', domain: '', modelVersion: 0, docString: '',
    graph: { name: 'tanh_mlp', nodes, initializers, inputs: [io('x')], outputs: [io('y')], valueInfo: [], metadata: {}, passthrough: {} },
    metadata: {}, passthrough: {},
  };
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'gd-meanfield-')), `tanh_${sw2}_${sb2}.onnx`);
  writeFileSync(file, encodeModel(model).bytes);
  return file;
}

describe('deep tanh networks against mean-field theory', () => {
  // ordered (chi_1 << 1), near the edge of chaos (chi_1 ~ 1) and chaotic (chi_1 >> 1)
  const grid: Array<{ sw2: number; sb2: number; phase: 'ordered' | 'critical' | 'chaotic' }> = [
    { sw2: 0.4, sb2: 0.05, phase: 'ordered' },
    { sw2: 0.5, sb2: 0, phase: 'ordered' },
    { sw2: 1, sb2: 0, phase: 'critical' },
    { sw2: 1.2, sb2: 0.01, phase: 'critical' },
    { sw2: 4, sb2: 0.05, phase: 'chaotic' },
    { sw2: 9, sb2: 0.1, phase: 'chaotic' },
  ];
  for (const [i, { sw2, sb2, phase }] of grid.entries()) {
    it(`sigma_w^2 ${sw2}, sigma_b^2 ${sb2} (${phase}): rms gain sqrt(chi_1), Lyapunov exponent log(chi_1) / 2, and the verdict`, async () => {
      const layers = theory(sw2, sb2).slice(BURN_IN);
      const r = await analyzeFile(tanhMlp(sw2, sb2, 100 + i), { executionProvider: 'cpu', curvatureIterations: 0, samples: { count: 1, seed: i, distribution: 'normal', dimensions: {} } });
      const gains = r.layers.slice(BURN_IN).map((l) => l.jacobian.rmsGain ?? NaN);
      // each layer's rms gain = sqrt(chi_l) (1 + e) with e of standard deviation relSd / 2; allow 5 of them
      for (const [k, g] of gains.entries()) {
        const { chi, relSd } = layers[k];
        assert.ok(Math.abs(g / Math.sqrt(chi) - 1) <= 5 * (relSd / 2), `layer ${BURN_IN + k}: rms gain ${g} vs sqrt(chi_1) ${Math.sqrt(chi)} (relative sd ${relSd / 2})`);
      }
      // the mean of the log gains averages the layers' independent fluctuations
      const lyapunov = gains.reduce((s, g) => s + Math.log(g), 0) / gains.length;
      const want = layers.reduce((s, l) => s + Math.log(l.chi) / 2, 0) / layers.length;
      const sd = Math.sqrt(layers.reduce((s, l) => s + (l.relSd / 2) ** 2, 0)) / layers.length;
      assert.ok(Math.abs(lyapunov - want) <= 5 * sd, `Lyapunov ${lyapunov} vs ${want} (sd ${sd})`);
      const chi = layers[layers.length - 1].chi;
      const rules = new Set(r.findings.filter((f) => f.severity !== 'info').map((f) => f.rule));
      const vanishing = rules.has('vanishing-gradient') || rules.has('end-to-end-collapse');
      const exploding = rules.has('exploding-gradient') || rules.has('exploding-layer') || rules.has('end-to-end-explosion');
      if (phase === 'ordered') assert.ok(vanishing && !exploding, `ordered phase (chi_1 ${chi.toFixed(3)}): ${[...rules].join(', ')}`);
      if (phase === 'chaotic') assert.ok(exploding && !vanishing, `chaotic phase (chi_1 ${chi.toFixed(3)}): ${[...rules].join(', ')}`);
      if (phase === 'critical') assert.ok(!vanishing && !exploding, `edge of chaos (chi_1 ${chi.toFixed(3)}): ${[...rules].join(', ')}`);
    });
  }
});
