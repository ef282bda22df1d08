import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { lossGradient, resolveLoss } from '../../../src/core/analysis/gradientFlow';
import { Rng } from '../../../src/core/inputs/rng';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { analyzeFile } from '../../../src/runtime/engine';
import { model, ROOT } from '../../helpers';

const logits = (dims: number[]) => ({ dtype: 'float32' as const, dims, data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)) });

describe('the loss', () => {
  it('picks cross-entropy for class scores, the negative log-likelihood for probabilities and the sum otherwise, saying why', () => {
    assert.equal(resolveLoss('auto', 'mean', logits([4, 10]), 'Gemm').kind, 'ce');
    assert.match(resolveLoss('auto', 'mean', logits([4, 10]), 'Gemm').note ?? '', /class scores/);
    assert.equal(resolveLoss('auto', 'mean', logits([4, 10]), 'Softmax').kind, 'nll');
    assert.equal(resolveLoss('auto', 'mean', logits([4, 10]), 'LogSoftmax').kind, 'ce');
    assert.equal(resolveLoss('auto', 'mean', logits([4, 16, 32]), 'Add').kind, 'sum');
    assert.equal(resolveLoss('mse', 'sum', logits([4, 10]), 'Gemm').kind, 'mse');
  });

  it('refuses the sum of a softmax output, a constant with no gradient, naming the losses that carry one', () => {
    assert.throws(() => resolveLoss('sum', 'mean', logits([2, 5]), 'Softmax'), /constant.*Softmax.*--loss auto or nll/s);
  });

  it('averages over the batch by default, as PyTorch does, so the loss does not grow with the batch', () => {
    const y = logits([8, 5]);
    for (const kind of ['sum', 'mse', 'ce'] as const) {
      const mean = lossGradient({ kind, reduction: 'mean' }, y, new Rng(1));
      const sum = lossGradient({ kind, reduction: 'sum' }, y, new Rng(1));
      assert.ok(Math.abs(sum.value / mean.value - 8) < 1e-12, kind);
      sum.gradient.forEach((g, i) => assert.ok(Math.abs(g / 8 - mean.gradient[i]) <= 1e-15 + 1e-12 * Math.abs(g), kind));
    }
  });

  it('differentiates the negative log-likelihood of probabilities: -1 / p at the label', () => {
    const p = { dtype: 'float32' as const, dims: [1, 3], data: Float32Array.of(0.2, 0.5, 0.3) };
    const g = lossGradient({ kind: 'nll', reduction: 'mean' }, p, new Rng(0), [1]);
    assert.ok(Math.abs(g.value + Math.log(0.5)) < 1e-7);
    assert.deepEqual(Array.from(g.gradient, (x) => Number(x.toFixed(6))), [0, -2, 0]);
  });

  it('analyses a classifier with cross-entropy by default, and says so in the report', async () => {
    const r = await analyzeFile(model('mlp_sigmoid'), { executionProvider: 'cpu', curvatureIterations: 0 });
    assert.equal(r.run.loss, 'ce');
    assert.equal(r.run.lossReduction, 'mean');
    assert.match(r.run.lossNote ?? '', /auto: .*class scores/);
  });

  it('gives a softmax output a loss that carries a gradient, and refuses a requested sum of it', async () => {
    const m = decodeModel(readFileSync(model('mlp_sigmoid')));
    const out = m.graph.outputs[0].name;
    const last = m.graph.nodes.find((n) => n.outputs.includes(out))!;
    last.outputs = ['logits'];
    m.graph.nodes.push({ name: '/Softmax', opType: 'Softmax', domain: '', inputs: ['logits'], outputs: [out], attributes: [{ name: 'axis', type: 'int', value: 1 }], metadata: {} });
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'gd-softmax-')), 'softmax.onnx');
    writeFileSync(file, encodeModel(m).bytes);
    const r = await analyzeFile(file, { executionProvider: 'cpu', curvatureIterations: 6 });
    assert.equal(r.run.loss, 'nll');
    assert.match(r.run.lossNote ?? '', /Softmax's probabilities/);
    assert.ok((r.layers[0].gradient.inputNorm ?? 0) > 0, 'a gradient flows');
    assert.ok((r.curvature.hessianMaxEigenvalue ?? 0) > 1e-6, `curvature ${r.curvature.hessianMaxEigenvalue}`);
    await assert.rejects(analyzeFile(file, { executionProvider: 'cpu', curvatureIterations: 0, loss: 'sum' }), /constant/);
  });
});

interface CeReference {
  hessianMaxEigenvalue: number;
  input: string;
  labels: number[];
}

describe('the stable learning rate of a mean-reduced cross-entropy against PyTorch\'s Hessian (double backward, float64)', () => {
  const fixtures = path.join(ROOT, 'test', 'fixtures');
  const ref = JSON.parse(readFileSync(path.join(fixtures, 'references', 'mlp_sigmoid.json'), 'utf8')).ceMeanHessian as Record<'batch1' | 'batch8', CeReference>;
  const analyze = (input: string, labels: number[], lossReduction: 'mean' | 'sum') => analyzeFile(model('mlp_sigmoid'), {
    executionProvider: 'cpu',
    samples: { count: 1, seed: 0, distribution: 'normal', dimensions: {}, files: [path.join(fixtures, input)] },
    loss: 'ce',
    lossReduction,
    labels,
    curvatureIterations: 20,
  });

  for (const size of ['batch1', 'batch8'] as const) {
    it(`matches lambda_max and 2 / lambda_max at ${size === 'batch1' ? 'batch size 1' : 'batch size 8'}`, async () => {
      const r = await analyze(ref[size].input, ref[size].labels, 'mean');
      const got = r.curvature.hessianMaxEigenvalue ?? NaN;
      const want = ref[size].hessianMaxEigenvalue;
      assert.ok(Math.abs(got - want) <= Math.max(r.curvature.error ?? 0, 0.02 * want), `lambda_max ${got} ± ${r.curvature.error} vs PyTorch ${want}`);
      assert.ok(Math.abs((r.curvature.maxStableLearningRate ?? NaN) - 2 / want) <= 0.03 * (2 / want));
    });
  }

  it('gives the same bound for the sample repeated 8 times as for it alone, and 8 times smaller with a summed loss', async () => {
    const labels = Array(8).fill(ref.batch1.labels[0]);
    const copies = 'references/mlp_sigmoid_copies8.npy';
    const mean = await analyze(copies, labels, 'mean');
    const sum = await analyze(copies, labels, 'sum');
    const one = ref.batch1.hessianMaxEigenvalue;
    assert.ok(Math.abs((mean.curvature.hessianMaxEigenvalue ?? NaN) - one) <= 0.02 * one, `mean over copies ${mean.curvature.hessianMaxEigenvalue} vs ${one}`);
    assert.ok(Math.abs((sum.curvature.hessianMaxEigenvalue ?? NaN) - 8 * one) <= 0.02 * 8 * one, `sum over copies ${sum.curvature.hessianMaxEigenvalue} vs ${8 * one}`);
  });
});
