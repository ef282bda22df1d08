import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { float32Tensor, tensorToFloat64 } from '../../../src/core/onnx/tensorData';
import type { AnalysisReport } from '../../../src/core/report/types';
import { DerivativeRunner, ForwardPass } from '../../../src/core/autodiff/probe';
import { probeJacobian } from '../../../src/core/analysis/jacobian';
import { DEFAULT_SAMPLE_OPTIONS, prepareSamples } from '../../../src/core/inputs/prepare';
import { Rng } from '../../../src/core/inputs/rng';
import { analyzeFile } from '../../../src/runtime/engine';
import { loadModelFile } from '../../../src/runtime/modelFile';
import { createOrtRunner } from '../../../src/runtime/ort';
import { model, ROOT } from '../../helpers';

const schema = JSON.parse(readFileSync(path.join(ROOT, 'schema', 'report.schema.json'), 'utf8'));
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
const quick = { executionProvider: 'cpu' as const, curvatureIterations: 4 };

function assertValid(report: AnalysisReport): void {
  const ok = validate(JSON.parse(JSON.stringify(report)));
  assert.ok(ok, JSON.stringify(validate.errors?.slice(0, 5), null, 1));
}

/** The report contract of the README: every path a script may read. */
function assertContract(r: AnalysisReport): void {
  assert.equal(r.schemaVersion, 1);
  assert.match(r.model.sha256, /^[0-9a-f]{64}$/);
  for (const k of ['executionProvider', 'loss', 'granularity'] as const) assert.ok(r.run[k] !== undefined, `run.${k}`);
  for (const l of r.layers) {
    for (const k of ['name', 'opTypes', 'inputTensors', 'outputTensors', 'parameters'] as const) assert.ok(l[k] !== undefined, `layers[].${k}`);
    for (const k of ['sigmaMax', 'sigmaMin', 'rmsGain', 'conditionNumber', 'method'] as const) assert.ok(k in l.jacobian, `layers[].jacobian.${k}`);
    assert.ok('inputNorm' in l.gradient && 'outputNorm' in l.gradient);
  }
  for (const p of r.parameters) for (const k of ['name', 'norm', 'gradNorm', 'spectralNorm'] as const) assert.ok(k in p, `parameters[].${k}`);
  for (const k of ['sigmaMax', 'sigmaMin', 'rmsGain'] as const) assert.ok(k in r.endToEnd);
  assert.ok('hessianMaxEigenvalue' in r.curvature && 'maxStableLearningRate' in r.curvature);
  assert.ok(Array.isArray(r.findings));
}

/** Writes a modified copy of a fixture to a temporary folder. */
function variant(name: string, change: (m: ReturnType<typeof decodeModel>) => void): string {
  const m = decodeModel(readFileSync(model(name)));
  change(m);
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'gd-variant-')), `${name}.onnx`);
  writeFileSync(file, encodeModel(m).bytes);
  return file;
}

describe('analyzeModel', () => {
  for (const name of ['mlp_sigmoid', 'lstm', 'transformer']) {
    it(`writes a report of ${name} that follows the published JSON Schema and the contract`, async () => {
      const r = await analyzeFile(model(name), quick);
      assertValid(r);
      assertContract(r);
    });
  }

  it('takes medians over several samples and keeps the per-sample values', async () => {
    const r = await analyzeFile(model('mlp_tanh_overscaled'), { ...quick, samples: { count: 3, seed: 1, distribution: 'normal', dimensions: {} } });
    const l = r.layers[0].jacobian;
    assert.equal(l.spread?.sigmaMax.perSample.length, 3);
    const sorted = [...(l.spread?.sigmaMax.perSample as number[])].sort((a, b) => a - b);
    assert.equal(l.sigmaMax, sorted[1]);
    assert.ok((l.spread?.sigmaMax.min ?? 0) <= (l.spread?.sigmaMax.max ?? 0));
    assertValid(r);
  });

  it('supports the op and module granularities', async () => {
    const op = await analyzeFile(model('mlp_sigmoid'), { ...quick, granularity: 'op' });
    assert.deepEqual(op.layers[0].opTypes, ['Gemm']);
    const mod = await analyzeFile(model('resnet_small'), { ...quick, granularity: 'module', curvatureIterations: 0 });
    assert.ok(mod.layers.some((l) => l.name === '/layer1/layer1.0/conv1'), mod.layers.map((l) => l.name).join(', '));
    // weight-only conv figures: the Lanczos operator norm, and the exact circular spectrum for stride-1 convs (3 x 16 x 16 inputs)
    const conv1 = mod.parameters.find((p) => p.name === 'conv1.weight');
    assert.equal(conv1?.circularSpectrum?.count, 3 * 16 * 16); // min(8 out, 3 in) channels x 16 x 16 frequencies
    assert.match(conv1?.spectralNormMethod ?? '', /Lanczos operator norm/);
    assert.equal(mod.parameters.find((p) => p.name === 'layer2.0.downsample.0.weight')?.circularSpectrum, undefined, 'stride 2: not covered');
  });

  it('reports NaN weights and the first node that produces NaN, and still completes', async () => {
    const file = variant('mlp_sigmoid', (m) => {
      const w = m.graph.initializers.get('layers.3.weight');
      if (!w) throw new Error('fixture changed');
      const values = tensorToFloat64(w);
      values[5] = NaN;
      m.graph.initializers.set('layers.3.weight', float32Tensor('layers.3.weight', w.dims, values));
    });
    const r = await analyzeFile(file, quick);
    assert.deepEqual(r.nonFinite.find((n) => n.where === 'weight'), { tensor: 'layers.3.weight', node: '/layers.3/Gemm', where: 'weight' });
    assert.equal(r.nonFinite.find((n) => n.where === 'activation')?.node, '/layers.3/Gemm');
    assertValid(r);
  });

  it('falls back to finite differences through an op without a rule, and the estimate agrees with the exact figures', async () => {
    // Softsign has no derivative rule; x / (1 + |x|) built from Div, Add and Abs has.
    const withSoftsign = variant('mlp_sigmoid', (m) => {
      const act = m.graph.nodes.find((n) => n.name === '/Sigmoid_1');
      if (!act) throw new Error('fixture changed');
      act.opType = 'Softsign';
    });
    const decomposed = variant('mlp_sigmoid', (m) => {
      const i = m.graph.nodes.findIndex((n) => n.name === '/Sigmoid_1');
      const act = m.graph.nodes[i];
      const [x] = act.inputs;
      const [y] = act.outputs;
      const one = float32Tensor('one', [], [1]);
      m.graph.initializers.set('one', one);
      m.graph.nodes.splice(i, 1,
        { name: 'abs', opType: 'Abs', domain: '', inputs: [x], outputs: ['abs_out'], attributes: [], metadata: {} },
        { name: 'add', opType: 'Add', domain: '', inputs: ['one', 'abs_out'], outputs: ['den'], attributes: [], metadata: {} },
        { name: '/Sigmoid_1', opType: 'Div', domain: '', inputs: [x, 'den'], outputs: [y], attributes: [], metadata: {} });
    });
    const fd = await analyzeFile(withSoftsign, { ...quick, samples: { count: 1, seed: 0, distribution: 'normal', dimensions: {} } });
    const layer = fd.layers[1].jacobian;
    assert.equal(layer.method, 'finite-difference');
    assert.match(layer.note ?? '', /no derivative rule.*Softsign|Softsign.*no derivative rule/);
    // the same span of the decomposed model, with derivative rules all the way
    const loaded = loadModelFile(decomposed);
    const sample = prepareSamples(loaded.model, { ...DEFAULT_SAMPLE_OPTIONS }).samples[0];
    const forward = await ForwardPass.run(loaded.model, sample, createOrtRunner, 'cpu');
    const runner = new DerivativeRunner(forward, loaded.order, 17, createOrtRunner, 'cpu');
    const truth = await probeJacobian(runner, { sources: fd.layers[1].inputTensors, targets: fd.layers[1].outputTensors }, (t) => forward.shape(t) ?? [], new Rng(0));
    await runner.dispose();
    assert.equal(truth.method, 'exact');
    for (const k of ['sigmaMax', 'sigmaMin'] as const) {
      const err = Math.abs((layer[k] ?? NaN) - (truth[k] ?? NaN));
      assert.ok(err <= 3 * (layer.errors?.[k] ?? 0) + 1e-6, `${k}: ${layer[k]} vs exact ${truth[k]}, error bar ${layer.errors?.[k]}`);
    }
    assert.ok((layer.errors?.sigmaMax ?? 1) < 0.01 * (layer.sigmaMax ?? 0), 'the error bar is small');
    assertValid(fd);
  });

  it('reports a layer it can neither differentiate nor difference, with the reason, and keeps the rest of the report', async () => {
    const file = variant('resnet_small', (m) => {
      const act = m.graph.nodes.find((n) => n.name === '/layer1/layer1.0/Relu');
      if (!act) throw new Error('fixture changed');
      act.opType = 'Softsign'; // no rule, and the layer has 2048 inputs: above the finite-difference limit
    });
    const r = await analyzeFile(file, { ...quick, curvatureIterations: 0 });
    const failed = r.layers.find((l) => l.name === '/layer1/layer1.0/conv1/Conv');
    assert.equal(failed?.jacobian.method, 'failed');
    assert.match(failed?.jacobian.reason ?? '', /no derivative rule.*finite-difference fallback covers layers with at most 1024 inputs/);
    assert.ok(r.layers.filter((l) => l.jacobian.method !== 'failed').length >= r.layers.length - 1);
    assert.match(r.layers[0].gradient.reason ?? '', /Softsign/, 'the gradient flow through it is null with the reason');
    assertValid(r);
  });

  it('stops within a second of a cancel', async () => {
    const abort = new AbortController();
    let cancelledAt = 0;
    const run = analyzeFile(model('resnet_small'), { ...quick }, {
      signal: abort.signal,
      onProgress: (p) => {
        if (!cancelledAt && p.message.startsWith('Probing layer 3')) {
          cancelledAt = performance.now();
          abort.abort();
        }
      },
    });
    await assert.rejects(run, (e: unknown) => (e as { kind?: string }).kind === 'cancelled');
    assert.ok(performance.now() - cancelledAt < 1000, `stopped after ${performance.now() - cancelledAt} ms`);
  });

  it('refuses the curvature of a piecewise-smooth loss it cannot differentiate twice exactly, saying why', async () => {
    // a transposed convolution's weight gradient has no rule yet: exact Hessian products are out of reach here
    const file = variant('mlp_relu_he', (m) => {
      const gemm = m.graph.nodes.find((n) => n.name === '/layers.1/Gemm');
      if (!gemm) throw new Error('fixture changed');
      const w = m.graph.initializers.get(gemm.inputs[1]);
      if (!w) throw new Error('fixture changed');
      // y = ConvTranspose(x viewed as [1, 32, 1, 1], W viewed as [32, 32, 1, 1]) is the same map as Gemm without bias
      m.graph.initializers.set('shape4', { name: 'shape4', dataType: 7, dims: [4], raw: new Uint8Array(new BigInt64Array([1n, 32n, 1n, 1n]).buffer) });
      m.graph.initializers.set('shape2', { name: 'shape2', dataType: 7, dims: [2], raw: new Uint8Array(new BigInt64Array([1n, 32n]).buffer) });
      const wt = float32Tensor('wt4', [32, 32, 1, 1], tensorToFloat64(w));
      m.graph.initializers.set('wt4', wt);
      const i = m.graph.nodes.indexOf(gemm);
      m.graph.nodes.splice(i, 1,
        { name: 'r4', opType: 'Reshape', domain: '', inputs: [gemm.inputs[0], 'shape4'], outputs: ['x4'], attributes: [], metadata: {} },
        { name: 'ct', opType: 'ConvTranspose', domain: '', inputs: ['x4', 'wt4'], outputs: ['y4'], attributes: [], metadata: {} },
        { name: '/layers.1/Gemm', opType: 'Reshape', domain: '', inputs: ['y4', 'shape2'], outputs: gemm.outputs, attributes: [], metadata: {} });
    });
    const r = await analyzeFile(file, { ...quick, curvatureIterations: 3 });
    assert.equal(r.curvature.hessianMaxEigenvalue, null);
    assert.match(r.curvature.reason ?? '', /piecewise smooth in the parameters \(Relu.*ConvTranspose/);
    assertValid(r);
  });

  it('computes the cross-entropy loss with pseudo-labels and with given labels', async () => {
    // the sigmoid MLP's 32 outputs read as logits of 32 classes
    const pseudo = await analyzeFile(model('mlp_sigmoid'), { ...quick, curvatureIterations: 0, loss: 'ce' });
    assert.equal(pseudo.run.labels, 'pseudo-labels drawn uniformly with the seed');
    const given = await analyzeFile(model('mlp_sigmoid'), { ...quick, curvatureIterations: 0, loss: 'ce', labels: [3] });
    assert.equal(given.run.labels, 'given');
    assert.ok((given.run.lossValue ?? 0) > 0);
    await assert.rejects(analyzeFile(model('mlp_sigmoid'), { ...quick, loss: 'ce', labels: [32] }), /labels must be integers in \[0, 32\)/);
  });
});
