import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import { memberFindings } from '../../../src/core/diagnosis/group';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { float32Tensor, tensorToFloat64 } from '../../../src/core/onnx/tensorData';
import type { AnalysisReport } from '../../../src/core/report/types';
import { DerivativeRunner, ForwardPass } from '../../../src/core/autodiff/probe';
import { probeJacobian } from '../../../src/core/analysis/jacobian';
import { DEFAULT_SAMPLE_OPTIONS, prepareSamples } from '../../../src/core/inputs/prepare';
import { Rng } from '../../../src/core/inputs/rng';
import { analyzeModel, DEFAULT_ANALYZE_OPTIONS } from '../../../src/core/analysis/analyze';
import { withRunHooks } from '../../../src/core/ports';
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
    // conv1 is a module of its own: its operator norm is its layer's sigma_max, measured once
    assert.match(conv1?.spectralNormMethod ?? '', /^exact operator norm of the convolution .* from its layer's assembled Jacobian/);
    assert.equal(conv1?.spectralNorm, mod.layers.find((l) => l.name === '/conv1')?.jacobian.sigmaMax);
    // a convolution inside a larger layer gets its own Lanczos probe
    const layerGranularity = await analyzeFile(model('resnet_small'), { ...quick, curvatureIterations: 0 });
    const inner = layerGranularity.parameters.find((p) => p.name === 'conv1.weight');
    assert.match(inner?.spectralNormMethod ?? '', /^Lanczos operator norm/);
    assert.ok(Math.abs((inner?.spectralNorm ?? NaN) - (conv1?.spectralNorm ?? NaN)) <= 1e-3 * (conv1?.spectralNorm ?? 0), `${inner?.spectralNorm} vs ${conv1?.spectralNorm}`);
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

  it('reports a strided 1x1 convolution as singular because it does not read some inputs, and does not call it ill-conditioned', async () => {
    const r = await analyzeFile(model('resnet_small'), { ...quick, curvatureIterations: 0 });
    const down = r.layers.find((l) => l.name === '/layer2/layer2.0/downsample/downsample.0/Conv');
    const rank = down?.jacobian.rank;
    assert.ok(rank && rank.value < rank.of && (rank.zeroColumns ?? 0) > 0, JSON.stringify(rank));
    assert.equal(down?.jacobian.conditionNumber, null);
    assert.ok(!r.findings.flatMap(memberFindings).some((f) => f.rule === 'ill-conditioned-layer' && f.layer === down?.name), 'no finding, nor a group\'s member, on it');
    assertValid(r);
  });

  it('does not report a -inf attention mask copied through an Identity (as exporters do) as a NaN or Inf weight', async () => {
    const file = variant('mlp_sigmoid', (m) => {
      const out = m.graph.outputs[0].name;
      const last = m.graph.nodes.find((n) => n.outputs.includes(out));
      if (!last) throw new Error('fixture changed');
      last.outputs = ['logits'];
      m.graph.initializers.set('mask', float32Tensor('mask', [1, 32], Array.from({ length: 32 }, (_, i) => (i < 16 ? 0 : -Infinity))));
      const node = (name: string, opType: string, inputs: string[], outputs: string[]) => ({ name, opType, domain: '', inputs, outputs, attributes: [], metadata: {} });
      m.graph.nodes.push(node('/mask/Identity', 'Identity', ['mask'], ['mask_copy']), node('/Add_mask', 'Add', ['logits', 'mask_copy'], ['masked']),
        { ...node('/Softmax', 'Softmax', ['masked'], [out]), attributes: [{ name: 'axis', type: 'int', value: 1 }] });
    });
    const r = await analyzeFile(file, { ...quick, curvatureIterations: 0 });
    assert.deepEqual(r.nonFinite, []);
    assert.ok(!r.findings.some((f) => f.severity === 'error' && /NaN|Inf/.test(f.message)));
  });

  /** The same span of another model, probed with rules all the way: the reference for an estimate. */
  async function exactSpan(file: string, span: { sources: string[]; targets: string[] }) {
    const loaded = loadModelFile(file);
    const sample = prepareSamples(loaded.model, { ...DEFAULT_SAMPLE_OPTIONS }).samples[0];
    const forward = await ForwardPass.run(loaded.model, sample, createOrtRunner, 'cpu');
    const runner = new DerivativeRunner(forward, loaded.order, 17, createOrtRunner, 'cpu');
    try {
      return await probeJacobian(runner, span, (t) => forward.shape(t) ?? [], new Rng(0));
    } finally {
      await runner.dispose();
    }
  }

  /** Replaces the node named `name` by `nodes` (which must produce its output). */
  function replaceNode(m: ReturnType<typeof decodeModel>, name: string, make: (x: string, y: string) => Array<ReturnType<typeof decodeModel>['graph']['nodes'][number]>): void {
    const i = m.graph.nodes.findIndex((n) => n.name === name);
    if (i < 0) throw new Error('fixture changed');
    const [x] = m.graph.nodes[i].inputs;
    const [y] = m.graph.nodes[i].outputs;
    m.graph.nodes.splice(i, 1, ...make(x, y));
  }
  const op = (name: string, opType: string, inputs: string[], outputs: string[], attributes: ReturnType<typeof decodeModel>['graph']['nodes'][number]['attributes'] = []) =>
    ({ name, opType, domain: '', inputs, outputs, attributes, metadata: {} });

  it('keeps the second-derivative terms through an op without a rule in the finite-difference curvature (its slopes taken at each point)', async () => {
    const withSoftsign = variant('mlp_sigmoid', (m) => replaceNode(m, '/Sigmoid_10', (x, y) => [op('/Sigmoid_10', 'Softsign', [x], [y])]));
    const decomposed = variant('mlp_sigmoid', (m) => {
      m.graph.initializers.set('one', float32Tensor('one', [], [1]));
      replaceNode(m, '/Sigmoid_10', (x, y) => [op('abs', 'Abs', [x], ['abs_out']), op('add', 'Add', ['one', 'abs_out'], ['den']), op('/Sigmoid_10', 'Div', [x, 'den'], [y])]);
    });
    const options = { ...quick, curvatureIterations: 20, loss: 'mse' as const };
    const estimate = (await analyzeFile(withSoftsign, options)).curvature;
    const exact = (await analyzeFile(decomposed, options)).curvature;
    assert.match(estimate.method ?? '', /central-difference/);
    assert.match(exact.method ?? '', /exact Hessian-vector products/);
    const [a, b] = [estimate.hessianMaxEigenvalue ?? NaN, exact.hessianMaxEigenvalue ?? NaN];
    assert.ok(Math.abs(a - b) <= (estimate.error ?? 0) + (exact.error ?? 0) + 0.02 * b, `lambda_max ${a} ± ${estimate.error} (finite differences) vs ${b} ± ${exact.error} (exact)`);
  });

  it('estimates the slope of an elementwise op without a rule by finite differences, in layers and in the gradient flow', async () => {
    const withSoftsign = variant('mlp_sigmoid', (m) => replaceNode(m, '/Sigmoid_1', (x, y) => [op('/Sigmoid_1', 'Softsign', [x], [y])]));
    // softsign(x) = x / (1 + |x|) from ops that have rules
    const decomposed = variant('mlp_sigmoid', (m) => {
      m.graph.initializers.set('one', float32Tensor('one', [], [1]));
      replaceNode(m, '/Sigmoid_1', (x, y) => [op('abs', 'Abs', [x], ['abs_out']), op('add', 'Add', ['one', 'abs_out'], ['den']), op('/Sigmoid_1', 'Div', [x, 'den'], [y])]);
    });
    const r = await analyzeFile(withSoftsign, quick);
    const layer = r.layers[1].jacobian;
    assert.equal(layer.method, 'exact');
    assert.match(layer.note ?? '', /Softsign \(no rule\) are finite-difference estimates/);
    assert.deepEqual(r.run.finiteDifferenceSlopes, ['Softsign']);
    const truth = await exactSpan(decomposed, { sources: r.layers[1].inputTensors, targets: r.layers[1].outputTensors });
    for (const k of ['sigmaMax', 'sigmaMin'] as const) {
      assert.ok(Math.abs((layer[k] ?? NaN) - truth[k]) <= (layer.errors?.[k] ?? 0) + 1e-6, `${k}: ${layer[k]} vs exact ${truth[k]} ± ${layer.errors?.[k]}`);
    }
    const reference = await analyzeFile(decomposed, quick);
    const got = r.layers[0].gradient.inputNorm ?? NaN;
    const want = reference.layers[0].gradient.inputNorm ?? NaN;
    assert.ok(Math.abs(got - want) <= 1e-3 * want, `gradient at the input: ${got} vs ${want}`);
    assertValid(r);
  });

  it('estimates the local Jacobian of a small non-elementwise op without a rule, in layers and in the gradient flow', async () => {
    const lp = (x: string, y: string) => [op('/Sigmoid_1', 'LpNormalization', [x], [y], [{ name: 'axis', type: 'int', value: 1 }, { name: 'p', type: 'int', value: 2 }])];
    const withLp = variant('mlp_sigmoid', (m) => replaceNode(m, '/Sigmoid_1', lp));
    // x / sqrt(sum(x^2, axis 1)) from ops that have rules
    const decomposed = variant('mlp_sigmoid', (m) => {
      m.graph.initializers.set('axis1', { name: 'axis1', dataType: 7, dims: [1], raw: new Uint8Array(new BigInt64Array([1n]).buffer) });
      replaceNode(m, '/Sigmoid_1', (x, y) => [
        op('sq', 'Mul', [x, x], ['sq_out']), op('sum', 'ReduceSum', ['sq_out', 'axis1'], ['sum_out'], [{ name: 'keepdims', type: 'int', value: 1 }]),
        op('sqrt', 'Sqrt', ['sum_out'], ['norm']), op('/Sigmoid_1', 'Div', [x, 'norm'], [y]),
      ]);
    });
    const r = await analyzeFile(withLp, quick);
    const l = r.layers.find((x) => x.opTypes.includes('LpNormalization'));
    assert.equal(l?.jacobian.method, 'exact');
    assert.match(l?.jacobian.note ?? '', /LpNormalization \(no rule\) are finite-difference estimates/);
    const truth = await exactSpan(decomposed, { sources: l?.inputTensors ?? [], targets: l?.outputTensors ?? [] });
    const err = Math.abs((l?.jacobian.sigmaMax ?? NaN) - truth.sigmaMax);
    assert.ok(err <= (l?.jacobian.errors?.sigmaMax ?? 0) + 1e-6, `sigma_max ${l?.jacobian.sigmaMax} vs exact ${truth.sigmaMax} ± ${l?.jacobian.errors?.sigmaMax}`);
    const reference = await analyzeFile(decomposed, quick);
    const got = r.layers[0].gradient.inputNorm ?? NaN;
    const want = reference.layers[0].gradient.inputNorm ?? NaN;
    assert.ok(Math.abs(got - want) <= 1e-3 * want, `gradient at the input: ${got} vs ${want}`);
    assertValid(r);
  });

  it('says when a recurrent node cannot be unrolled, and estimates its layer by finite differences instead of failing', async () => {
    // clip is an LSTM attribute the unroller does not handle; at clip 50 the LSTM computes the same as without it
    const clipped = variant('lstm', (m) => {
      const lstm = m.graph.nodes.find((n) => n.opType === 'LSTM');
      if (!lstm) throw new Error('fixture changed');
      lstm.attributes.push({ name: 'clip', type: 'float', value: 50 });
    });
    const r = await analyzeFile(clipped, quick);
    assert.equal(r.run.recurrent?.length, 1);
    assert.equal(r.run.recurrent?.[0].unrolled, false);
    assert.match(r.run.recurrent?.[0].how ?? '', /not unrolled: .*clipping.*gradient flow stops at it/);
    const truth = await analyzeFile(model('lstm'), quick);
    assert.deepEqual(truth.run.recurrent?.map((x) => x.unrolled), [true]);
    const [got, want] = [r.layers[0].jacobian, truth.layers[0].jacobian];
    assert.equal(got.kinds?.sigmaMax, 'estimate');
    assert.match(got.note ?? '', /LSTM \(no rule\) are finite-difference estimates/);
    for (const k of ['sigmaMax', 'rmsGain'] as const) {
      assert.ok(Math.abs((got[k] ?? NaN) - (want[k] ?? NaN)) <= (got.errors?.[k] ?? 0) + (want.errors?.[k] ?? 0) + 1e-6, `${k}: ${got[k]} ± ${got.errors?.[k]} vs unrolled ${want[k]}`);
    }
    assertValid(r);
  });

  it('widens a layer\'s error bars by its own estimated slopes\' error, not the largest of the whole pass', async () => {
    // two layers through operators without a rule, with different Richardson errors
    const both = variant('mlp_sigmoid', (m) => {
      replaceNode(m, '/Sigmoid_1', (x, y) => [op('/Sigmoid_1', 'Softsign', [x], [y])]);
      replaceNode(m, '/Sigmoid_5', (x, y) => [op('/Sigmoid_5', 'LpNormalization', [x], [y], [{ name: 'axis', type: 'int', value: 1 }, { name: 'p', type: 'int', value: 2 }])]);
    });
    const loaded = loadModelFile(both);
    const sample = prepareSamples(loaded.model, { ...DEFAULT_SAMPLE_OPTIONS }).samples[0];
    const forward = await ForwardPass.run(loaded.model, sample, createOrtRunner, 'cpu');
    const runner = new DerivativeRunner(forward, loaded.order, 17, createOrtRunner, 'cpu');
    const spanOf = (node: string) => {
      const n = loaded.model.graph.nodes.find((x) => x.name === node);
      if (!n) throw new Error('fixture changed');
      return { sources: [n.inputs[0]], targets: [n.outputs[0]] };
    };
    try {
      const [softsign, lp] = [spanOf('/Sigmoid_1'), spanOf('/Sigmoid_5')];
      const a = await probeJacobian(runner, softsign, (t) => forward.shape(t) ?? [], new Rng(0));
      const b = await probeJacobian(runner, lp, (t) => forward.shape(t) ?? [], new Rng(0));
      const own = [forward.slopes.get(softsign.targets[0])?.relativeError, forward.localJacobians.get(lp.targets[0])?.relativeError];
      assert.ok(own[0] !== undefined && own[1] !== undefined && own[0] !== own[1], `two different estimates: ${own}`);
      assert.equal(runner.slopeError(softsign), own[0]);
      assert.equal(runner.slopeError(lp), own[1]);
      assert.equal(runner.slopeError({ sources: [softsign.sources[0]], targets: [lp.targets[0]] }), Math.max(own[0] ?? 0, own[1] ?? 0));
      // each layer's note states its own error, and the error bar adds it times sigma_max
      assert.match(a.note ?? '', new RegExp(`relative error ${(own[0] ?? 0).toPrecision(2).replace('.', '\\.')}`));
      assert.match(b.note ?? '', new RegExp(`relative error ${(own[1] ?? 0).toPrecision(2).replace('.', '\\.')}`));
      assert.ok(a.errors.sigmaMax >= (own[0] ?? 0) * a.sigmaMax);
    } finally {
      await runner.dispose();
    }
  });

  it('falls back to finite differences for a whole layer when an op without a rule mixes several varying inputs', async () => {
    // y = PRelu(x, sigmoid(x)): PRelu has no rule, and both of its inputs vary with the layer input
    const withPrelu = variant('mlp_sigmoid', (m) => replaceNode(m, '/Sigmoid_1', (x, y) => [op('s', 'Sigmoid', [x], ['s_out']), op('/Sigmoid_1', 'PRelu', [x, 's_out'], [y])]));
    const decomposed = variant('mlp_sigmoid', (m) => {
      m.graph.initializers.set('zero', float32Tensor('zero', [], [0]));
      replaceNode(m, '/Sigmoid_1', (x, y) => [
        op('s', 'Sigmoid', [x], ['s_out']), op('lt', 'Less', [x, 'zero'], ['lt_out']), op('neg', 'Mul', ['s_out', x], ['neg_out']), op('/Sigmoid_1', 'Where', ['lt_out', 'neg_out', x], [y]),
      ]);
    });
    // the span from the second Gemm's input to the PRelu output (the Gemm output branches, so no layer covers it)
    const gemm = decodeModel(readFileSync(withPrelu)).graph.nodes.find((n) => n.name === '/layers.1/Gemm');
    const prelu = decodeModel(readFileSync(withPrelu)).graph.nodes.find((n) => n.opType === 'PRelu');
    const span = { sources: [gemm?.inputs[0] ?? ''], targets: [prelu?.outputs[0] ?? ''] };
    const estimate = await exactSpan(withPrelu, span);
    assert.equal(estimate.method, 'finite-difference');
    assert.match(estimate.note ?? '', /PRelu/);
    const truth = await exactSpan(decomposed, span);
    assert.equal(truth.method, 'exact');
    const err = Math.abs(estimate.sigmaMax - truth.sigmaMax);
    assert.ok(err <= 3 * estimate.errors.sigmaMax + 1e-6, `sigma_max ${estimate.sigmaMax} vs exact ${truth.sigmaMax} ± ${estimate.errors.sigmaMax}`);
  });

  it('estimates a large layer through an op without a rule from finite-difference probes, and says what is missing', async () => {
    const lp = (x: string, y: string) => [op('/layer1/layer1.0/Relu', 'LpNormalization', [x], [y], [{ name: 'axis', type: 'int', value: 1 }])];
    const file = variant('resnet_small', (m) => replaceNode(m, '/layer1/layer1.0/Relu', lp)); // no rule, 2048 inputs
    const r = await analyzeFile(file, { ...quick, curvatureIterations: 0 });
    const layer = r.layers.find((l) => l.name === '/layer1/layer1.0/conv1/Conv');
    const j = layer?.jacobian;
    assert.equal(j?.method, 'finite-difference');
    assert.equal(j?.sigmaMin, null);
    assert.match(j?.reason ?? '', /sigma_min is not available/);
    assert.match(j?.note ?? '', /LpNormalization.*2048 inputs.*lower bound/);
    assert.deepEqual(j?.kinds, { sigmaMax: 'lower-bound', sigmaMin: 'estimate', rmsGain: 'estimate', conditionNumber: 'estimate' });
    // the same span with LpNormalization built from ops that have rules
    const decomposed = variant('resnet_small', (m) => {
      m.graph.initializers.set('axis1', { name: 'axis1', dataType: 7, dims: [1], raw: new Uint8Array(new BigInt64Array([1n]).buffer) });
      replaceNode(m, '/layer1/layer1.0/Relu', (x, y) => [
        op('sq', 'Mul', [x, x], ['sq_out']), op('sum', 'ReduceSum', ['sq_out', 'axis1'], ['sum_out'], [{ name: 'keepdims', type: 'int', value: 1 }]),
        op('sqrt', 'Sqrt', ['sum_out'], ['norm']), op('/layer1/layer1.0/Relu', 'Div', [x, 'norm'], [y]),
      ]);
    });
    const truth = await exactSpan(decomposed, { sources: layer?.inputTensors ?? [], targets: layer?.outputTensors ?? [] });
    const rmsErr = Math.abs((j?.rmsGain ?? NaN) - truth.rmsGain);
    assert.ok(rmsErr <= 3 * ((j?.errors?.rmsGain ?? 0) + truth.errors.rmsGain), `rms ${j?.rmsGain} ± ${j?.errors?.rmsGain} vs ${truth.rmsGain} ± ${truth.errors.rmsGain}`);
    assert.ok((j?.sigmaMax ?? Infinity) <= truth.sigmaMax + (j?.errors?.sigmaMax ?? 0), 'sigma_max is a lower bound (within its finite-difference error)');
    assert.ok((j?.sigmaMax ?? Infinity) >= (j?.rmsGain ?? 0) - (j?.errors?.rmsGain ?? 0), 'and never below the rms gain it bounds');
    const frobenius = Number(/\|\|J\|\|_F = ([\d.e+-]+)/.exec(j?.note ?? '')?.[1]);
    assert.ok(frobenius >= truth.sigmaMax * 0.99, `the upper bound ||J||_F = ${frobenius} holds`);
    assert.match(r.layers[0].gradient.reason ?? '', /LpNormalization/, 'the gradient flow through it is null with the reason');
    assertValid(r);
  });

  /**
   * Analyses resnet_small with onnxruntime runners that count the runs started after the cancel.
   * `cancelOn(message)` is asked at each progress message, `cancelAfterRun(message, runs)` after
   * each run with the runs made since that message; either returning true cancels.
   */
  async function analyzeCancelled(cancelOn: (message: string) => boolean, cancelAfterRun: (message: string, runs: number) => boolean = () => false) {
    const abort = new AbortController();
    let message = '';
    let runsSinceMessage = 0;
    let before = 0;
    let after = 0;
    let cancelledAt = '';
    const cancel = () => {
      cancelledAt = message;
      abort.abort();
    };
    const factory = withRunHooks(createOrtRunner, {
      beforeRun: () => (abort.signal.aborted ? after++ : before++),
      afterRun: () => {
        if (!abort.signal.aborted && cancelAfterRun(message, ++runsSinceMessage)) cancel();
      },
    });
    const run = analyzeModel(loadModelFile(model('resnet_small')), { ...DEFAULT_ANALYZE_OPTIONS, ...quick, samples: DEFAULT_SAMPLE_OPTIONS }, factory, { ort: 'test', tool: 'test' }, {
      signal: abort.signal,
      onProgress: (p) => {
        message = p.message;
        runsSinceMessage = 0;
        if (!abort.signal.aborted && cancelOn(message)) cancel();
      },
    });
    await assert.rejects(run, (e: unknown) => (e as { kind?: string }).kind === 'cancelled');
    return { cancelledAt, before, after };
  }

  // The mechanism, not wall time (timings belong to the bench): a cancel is observed at the next
  // checkpoint or onnxruntime run, whichever comes first, and no run starts after it.
  it('starts no onnxruntime run after a cancel between layers', async () => {
    const r = await analyzeCancelled((m) => m.startsWith('Probing layer 3'));
    assert.match(r.cancelledAt, /^Probing layer 3/);
    assert.ok(r.before > 0, 'the analysis ran before the cancel');
    assert.equal(r.after, 0, `${r.after} runs started after the cancel`);
  });

  it('starts no onnxruntime run after a cancel in the middle of a layer\'s probe', async () => {
    // resnet_small's layer 2 takes more than three runs (its Jacobian is assembled in batches or
    // probed by Lanczos): the cancel lands between two of them
    const r = await analyzeCancelled(() => false, (m, runs) => m.startsWith('Probing layer 2') && runs === 3);
    assert.match(r.cancelledAt, /^Probing layer 2/, 'cancelled inside the probe of layer 2');
    assert.equal(r.after, 0, `${r.after} runs started after the cancel`);
  });

  it('starts no onnxruntime run after a cancel during the curvature', async () => {
    const r = await analyzeCancelled(() => false, (m, runs) => m.startsWith('Curvature') && runs === 2);
    assert.match(r.cancelledAt, /^Curvature/);
    assert.equal(r.after, 0, `${r.after} runs started after the cancel`);
  });

  it('reports progress that never goes back and names every phase', async () => {
    const seen: Array<{ message: string; fraction: number }> = [];
    await analyzeFile(model('resnet_small'), quick, { onProgress: (p) => seen.push({ message: p.message, fraction: p.fraction ?? NaN }) });
    const fractions = seen.filter((p) => !Number.isNaN(p.fraction)).map((p) => p.fraction);
    fractions.forEach((f, i) => assert.ok(i === 0 || f >= fractions[i - 1], `${seen[i].message}: ${f} after ${fractions[i - 1]}`));
    assert.ok(fractions.every((f) => f >= 0 && f <= 1));
    for (const phase of [/forward pass/, /^Probing layer/, /gradient flow/, /end-to-end/, /operator norms of the convolutions/, /^Curvature: Lanczos step/]) {
      assert.ok(seen.some((p) => phase.test(p.message)), `${phase}`);
    }
  });

  it('refuses the curvature of a piecewise-smooth loss it cannot differentiate twice exactly, saying why', async () => {
    // PRelu has no rule: exact Hessian products are out of reach, and the ReLUs rule out finite differences of gradients
    const file = variant('mlp_relu_he', (m) => {
      m.graph.initializers.set('slope', float32Tensor('slope', [32], new Array(32).fill(0.1)));
      replaceNode(m, '/Relu_1', (x, y) => [op('/Relu_1', 'PRelu', [x, 'slope'], [y])]);
    });
    const r = await analyzeFile(file, { ...quick, curvatureIterations: 3 });
    assert.equal(r.curvature.hessianMaxEigenvalue, null);
    assert.match(r.curvature.reason ?? '', /piecewise smooth in the parameters \(Relu.*PRelu/);
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
