import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { AnalysisReport } from '../../../src/core/report/types';
import { analyzeFile } from '../../../src/runtime/engine';
import { ROOT } from '../../helpers';

interface Reference {
  model: string;
  input: string;
  lossValue: number;
  parameterGradNorms: Record<string, number>;
  layers: Array<{ label: string; sigmaMax: number; sigmaMin: number; rmsGain: number; inputGradNorm: number }>;
  endToEnd: { sigmaMax: number; sigmaMin: number; rmsGain: number } | null;
  hessianMaxEigenvalue?: number;
}

const fixtures = path.join(ROOT, 'test', 'fixtures');
const load = (name: string): Reference => JSON.parse(readFileSync(path.join(fixtures, 'references', `${name}.json`), 'utf8'));

async function analyze(ref: Reference): Promise<AnalysisReport> {
  return analyzeFile(path.join(fixtures, ref.model), {
    executionProvider: 'cpu',
    samples: { count: 1, seed: 0, distribution: 'normal', dimensions: {}, files: [path.join(fixtures, ref.input)] },
    loss: 'sum',
    curvatureIterations: ref.hessianMaxEigenvalue !== undefined ? 20 : 0,
  });
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

/** The engine's figures against PyTorch autograd (float64) on the same exported modules and inputs. */
for (const name of ['mlp_sigmoid', 'mlp_relu_he', 'mlp_tanh_overscaled', 'resnet_small', 'lstm']) {
  describe(`${name} against PyTorch autograd`, () => {
    const ref = load(name);
    let report: AnalysisReport;
    it('runs the analysis', async () => {
      report = await analyze(ref);
      assert.equal(report.layers.length, ref.layers.length, `layers: ${report.layers.map((l) => l.name).join(', ')}`);
      assert.ok(rel(report.run.lossValue ?? NaN, ref.lossValue) < 1e-5);
    });

    it('matches every parameter gradient norm within 1e-4 relative', () => {
      for (const [param, want] of Object.entries(ref.parameterGradNorms)) {
        // the LSTM's W, R and B have exporter-made names: find them as the LSTM layer's parameters
        const lstmIndex = ['lstm.W', 'lstm.R', 'lstm.B'].indexOf(param);
        const onnxName = lstmIndex >= 0 ? report.layers[0].parameters[lstmIndex] : param;
        const entry = report.parameters.find((p) => p.name === onnxName);
        // An initializer the exporter shared between layers (the others read it through Identity
        // copies, checked under their own names) has the summed gradient, as a tensor of the ONNX model should.
        if (entry?.sharedWith) continue;
        const got = entry?.gradNorm;
        assert.ok(got !== undefined && got !== null, `no gradient for ${param}`);
        assert.ok(rel(got, want) < 1e-4, `${param}: ${got} vs ${want} (rel ${rel(got, want).toExponential(2)})`);
      }
    });

    it('matches the gradient norm at every layer input within 1e-4 relative', () => {
      ref.layers.forEach((l, i) => {
        const got = report.layers[i].gradient.inputNorm ?? NaN;
        assert.ok(rel(got, l.inputGradNorm) < 1e-4, `${l.label}: ${got} vs ${l.inputGradNorm}`);
      });
    });

    it('matches every layer\'s largest singular value within 1%', () => {
      ref.layers.forEach((l, i) => {
        const got = report.layers[i].jacobian.sigmaMax ?? NaN;
        assert.ok(rel(got, l.sigmaMax) < 0.01, `${l.label}: sigma_max ${got} vs ${l.sigmaMax} (${report.layers[i].jacobian.method})`);
      });
    });

    it('matches the smallest singular values within 1% on the exact path (or within the stated error bar)', () => {
      ref.layers.forEach((l, i) => {
        const j = report.layers[i].jacobian;
        if (j.method !== 'exact') return;
        const got = j.sigmaMin ?? NaN;
        const bar = j.errors?.sigmaMin ?? 0;
        const ok = Math.abs(got - l.sigmaMin) <= Math.max(0.01 * l.sigmaMin, bar, 1e-6 * l.sigmaMax);
        assert.ok(ok, `${l.label}: sigma_min ${got} vs ${l.sigmaMin} (error bar ${bar})`);
      });
    });

    it('matches the rms gain within 1% where it is exact', () => {
      ref.layers.forEach((l, i) => {
        const j = report.layers[i].jacobian;
        if (j.rmsMethod !== 'exact') return;
        assert.ok(rel(j.rmsGain ?? NaN, l.rmsGain) < 0.01, `${l.label}: rms ${j.rmsGain} vs ${l.rmsGain}`);
      });
    });

    it('matches the Hessian\'s top eigenvalue within its stated error bar (or 2%)', (t) => {
      const want = ref.hessianMaxEigenvalue;
      if (want === undefined) return t.skip('no Hessian reference for this model');
      // exact Hessian-vector products by forward-over-reverse (ReLU kinks are no obstacle)
      assert.match(report.curvature.method ?? '', /exact Hessian-vector products/);
      const got = report.curvature.hessianMaxEigenvalue ?? NaN;
      const bar = report.curvature.error ?? 0;
      assert.ok(Math.abs(got - want) <= Math.max(bar, 0.02 * want), `lambda_max ${got} ± ${bar} vs ${want}`);
      assert.ok(bar < 0.1 * want, `the error bar ${bar} is useful`);
    });

    it('matches the end-to-end largest singular value within 1%', (t) => {
      if (!ref.endToEnd) return t.skip('integer inputs: no end-to-end Jacobian');
      assert.ok(rel(report.endToEnd.sigmaMax ?? NaN, ref.endToEnd.sigmaMax) < 0.01, `${report.endToEnd.sigmaMax} vs ${ref.endToEnd.sigmaMax}`);
    });
  });
}
