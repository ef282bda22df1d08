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
import { analyzeFile } from '../../../src/runtime/engine';
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

  it('reports a layer whose probe fails, with the reason, and keeps the rest of the report', async () => {
    const file = variant('mlp_sigmoid', (m) => {
      const act = m.graph.nodes.find((n) => n.name === '/Sigmoid_1');
      if (!act) throw new Error('fixture changed');
      act.opType = 'Softsign'; // no derivative rule
    });
    const r = await analyzeFile(file, quick);
    const failed = r.layers[1];
    assert.equal(failed.jacobian.method, 'failed');
    assert.match(failed.jacobian.reason ?? '', /no derivative rule/);
    assert.equal(r.layers.filter((l) => l.jacobian.method === 'exact').length, r.layers.length - 1);
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
