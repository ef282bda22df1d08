import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { batchStatistics, detectBatchNorm, reinsertFolded } from '../../../src/core/analysis/batchNorm';
import { decodeModel } from '../../../src/core/onnx/decode';
import { analyzeFile } from '../../../src/runtime/engine';
import { ortRunnerFactory } from '../../../src/runtime/ort';
import type { NdArray } from '../../../src/core/ndarray';

const fixtures = path.join(__dirname, '..', '..', 'fixtures');
const model = (name: string) => path.join(fixtures, 'models', name);
const ref = JSON.parse(readFileSync(path.join(fixtures, 'references', 'cnn_bn.json'), 'utf8')) as {
  statistics: Record<string, { mean: number[]; variance: number[] }>;
  firstLayer: { sigmaMax: number; rmsGain: number };
};
const input = path.join(fixtures, 'references', 'cnn_bn_input.npy');

/** The [8, 2, 4, 4] float32 batch of cnn_bn_input.npy (numpy's format: a header, then the data). */
function readBatch(): NdArray {
  const bytes = readFileSync(input);
  const headerLength = bytes.readUInt16LE(8);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 10 + headerLength, bytes.byteOffset + bytes.length));
  return { dtype: 'float32', dims: [8, 2, 4, 4], data };
}

const analyze = (file: string, batchNorm: 'auto' | 'batch' | 'running') => analyzeFile(model(file), {
  executionProvider: 'cpu', batchNorm, loss: 'sum', curvatureIterations: 0,
  samples: { count: 1, seed: 0, distribution: 'normal', dimensions: {}, files: [input] },
});

describe('BatchNorm as it acts in training (PyTorch exports of one CNN at init)', () => {
  it('detects BatchNorm folded by the eval export and the PRESERVE export\'s default statistics', () => {
    const folded = detectBatchNorm(decodeModel(readFileSync(model('cnn_bn_eval.onnx'))));
    assert.deepEqual(folded.folded.map((f) => [f.node, f.atDefaults]), [['/conv1/Conv', true], ['/conv2/Conv', true]]);
    assert.equal(folded.nodes.length, 0);
    const kept = detectBatchNorm(decodeModel(readFileSync(model('cnn_bn_preserve.onnx'))));
    assert.deepEqual(kept.nodes, [{ node: '/bn1/BatchNormalization', atDefaults: true }, { node: '/bn2/BatchNormalization', atDefaults: true }]);
    assert.equal(kept.folded.length, 0);
  });

  for (const [file, names] of [['cnn_bn_preserve.onnx', ['/bn1/BatchNormalization', '/bn2/BatchNormalization']], ['cnn_bn_eval.onnx', ['/conv1/BatchNormalization', '/conv2/BatchNormalization']]] as const) {
    it(`batch statistics of ${file} equal PyTorch's train-mode statistics on the same batch`, async () => {
      const m = decodeModel(readFileSync(model(file)));
      const r = reinsertFolded(m, detectBatchNorm(m).folded);
      const { stats, passes } = await batchStatistics(r, [{ x: readBatch() }], ortRunnerFactory({ seconds: 0, file: 'cnn_bn' }), 'cpu');
      assert.equal(passes, 1);
      names.forEach((name, i) => {
        const s = stats.get(name);
        assert.ok(s, name);
        const want = ref.statistics[i === 0 ? 'bn1' : 'bn2'];
        // the eval export's folded weight is W / sqrt(1 + eps): the variance differs by that factor
        for (let c = 0; c < 3; c++) {
          assert.ok(Math.abs(s.mean[c] - want.mean[c]) < 1e-4 * (1 + Math.abs(want.mean[c])), `${name} mean ${c}: ${s.mean[c]} vs ${want.mean[c]}`);
          assert.ok(Math.abs(s.variance[c] - want.variance[c]) / want.variance[c] < 1e-4, `${name} var ${c}: ${s.variance[c]} vs ${want.variance[c]}`);
        }
      });
    });
  }

  for (const file of ['cnn_bn_preserve.onnx', 'cnn_bn_eval.onnx']) {
    it(`${file}: auto analyses with batch statistics and the first layer's gains are PyTorch's with them frozen`, async () => {
      const r = await analyze(file, 'auto');
      assert.equal(r.run.batchNorm?.mode, 'batch');
      assert.equal(r.run.batchNorm?.batchSize, 8);
      const j = r.layers[0].jacobian;
      assert.deepEqual(r.layers[0].opTypes, ['Conv', 'BatchNormalization', 'Relu']);
      assert.ok(Math.abs((j.rmsGain ?? NaN) - ref.firstLayer.rmsGain) / ref.firstLayer.rmsGain < 1e-3, `rms gain ${j.rmsGain} vs ${ref.firstLayer.rmsGain}`);
      assert.ok(Math.abs((j.sigmaMax ?? NaN) - ref.firstLayer.sigmaMax) / ref.firstLayer.sigmaMax < 1e-3, `sigma_max ${j.sigmaMax} vs ${ref.firstLayer.sigmaMax}`);
      assert.equal(r.findings.some((f) => f.rule === 'missing-normalization'), false);
    });
  }

  it('the three modes: batch and running on the folded export, and what the verdict says', async () => {
    const batch = await analyze('cnn_bn_eval.onnx', 'batch');
    assert.equal(batch.run.batchNorm?.mode, 'batch');
    assert.match(batch.verdict?.headline ?? '', /BatchNorm was folded into the convolutions by the exporter; analysed with it re-inserted at batch statistics\.$/);
    const running = await analyze('cnn_bn_eval.onnx', 'running');
    assert.equal(running.run.batchNorm?.mode, 'running');
    assert.equal(running.layers[0].opTypes.includes('BatchNormalization'), false);
    assert.match(running.verdict?.headline ?? '', /the figures describe the network without normalisation\.$/);
    assert.equal(running.findings.some((f) => f.rule === 'missing-normalization'), false);
    const fix = running.findings.find((f) => f.rule === 'batchnorm-semantics')?.fix ?? '';
    assert.match(fix, /training=torch\.onnx\.TrainingMode\.PRESERVE/);
    // the PRESERVE export with running statistics at their defaults: BatchNorm is the identity, so the first layer is conv1 -> relu alone
    const kept = await analyze('cnn_bn_preserve.onnx', 'running');
    assert.equal(kept.run.batchNorm?.mode, 'running');
    assert.deepEqual(kept.run.batchNorm?.defaultStatistics, ['/bn1/BatchNormalization', '/bn2/BatchNormalization']);
    assert.ok(Math.abs((kept.layers[0].jacobian.rmsGain ?? NaN) - ref.firstLayer.rmsGain) > 0.05, 'running statistics give other figures');
  });
});
