import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { jacobianFigure } from '../../../src/core/report/figures';
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

    /** A figure against the reference: an exact one or an estimate within 1% or its error bar, a bound in its direction. */
    function checkFigure(l: Reference['layers'][number], i: number, name: 'sigmaMin' | 'rmsGain' | 'conditionNumber', want: number, slack: number) {
      const f = jacobianFigure(report.layers[i].jacobian, name);
      assert.ok(f !== null, `${l.label}: no ${name}`);
      const what = `${l.label}: ${name} ${f.value} (${f.kind} ± ${f.error}) vs ${want}`;
      if (f.kind === 'upper-bound') assert.ok(f.value >= want * (1 - 1e-6) - slack, what);
      else if (f.kind === 'lower-bound') assert.ok(f.value <= want * (1 + 1e-6) + slack, what);
      else assert.ok(Math.abs(f.value - want) <= Math.max(0.01 * want, 3 * (f.error ?? 0), slack), what);
    }

    it('matches the smallest singular values within 1% or the stated error bar, and bounds them in the right direction on every path', () => {
      ref.layers.forEach((l, i) => checkFigure(l, i, 'sigmaMin', l.sigmaMin, 1e-6 * l.sigmaMax));
    });

    it('matches the rms gain within 1% or the stated error bar on every path', () => {
      ref.layers.forEach((l, i) => checkFigure(l, i, 'rmsGain', l.rmsGain, 0));
    });

    it('matches the condition number, or bounds it in the right direction, wherever the reference resolves sigma_min', () => {
      ref.layers.forEach((l, i) => {
        if (l.sigmaMin < 1e-6 * l.sigmaMax) return; // singular in float32: the rank, not kappa, is the figure
        const f = jacobianFigure(report.layers[i].jacobian, 'conditionNumber');
        if (f && !Number.isFinite(f.value)) return assert.fail(`${l.label}: singular, while PyTorch's sigma_min is ${l.sigmaMin}`);
        const kappa = l.sigmaMax / l.sigmaMin;
        const slack = f?.kind === 'exact' ? 0.02 * kappa + kappa * kappa * 3 * (report.layers[i].jacobian.errors?.sigmaMin ?? 0) / l.sigmaMax : 0;
        checkFigure(l, i, 'conditionNumber', kappa, slack);
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
