import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import type { AnalysisReport } from '../../../src/core/report/types';
import { phaseSummary } from '../../../src/core/report/phase';
import { formatReportTable } from '../../../src/core/report/table';
import { reportMarkdown } from '../../../src/core/report/markdown';
import { analyzeFile } from '../../../src/runtime/engine';
import { model, ROOT } from '../../helpers';

const schema = JSON.parse(readFileSync(path.join(ROOT, 'schema', 'report.schema.json'), 'utf8'));
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
const options = { executionProvider: 'cpu' as const, curvatureIterations: 4, samples: { count: 2, seed: 0, distribution: 'normal' as const, dimensions: {} } };

/**
 * The report without what differs between the two runs: the times, and the run count (the first
 * look runs only for someone waiting on partial reports). The figures never differ: the seed fixes them.
 */
function stable(r: AnalysisReport): unknown {
  return JSON.parse(JSON.stringify(r, (k, v) => (k === 'durationMs' || k === 'firstAnswerMs' || k === 'derivativeRuns' || k === 'productGflops' ? undefined : v)));
}

describe('the progressive report', () => {
  it('reports a first answer, then refinements, and ends with the same document as an analysis without them', async () => {
    const partials: AnalysisReport[] = [];
    const final = await analyzeFile(model('resnet_small'), options, { onPartial: (r) => partials.push(JSON.parse(JSON.stringify(r))) });
    const plain = await analyzeFile(model('resnet_small'), options);
    assert.deepEqual(stable(final), stable(plain), 'the final report does not depend on whether partial reports were asked for');
    assert.equal(final.run.phase, undefined);
    assert.ok(plain.run.firstAnswerMs === undefined && final.run.derivativeRuns > plain.run.derivativeRuns, 'no first look when no one waits for it');
    assert.ok(final.run.firstAnswerMs !== undefined && final.run.firstAnswerMs < final.run.durationMs);

    assert.ok(partials.length >= 2, `${partials.length} partial reports`);
    const first = partials[0];
    assert.equal(first.run.phase, 'first-answer');
    assert.ok(partials.slice(1).every((p) => p.run.phase === 'refining'));
    for (const p of partials) assert.ok(validate(p), JSON.stringify(validate.errors?.slice(0, 3)));
    // the first answer: gradient flow, weight figures, and sigma_max and the rms gain of every layer; the rest said to come
    assert.equal(first.layers.length, final.layers.length);
    // (the first sample's gradient flow: the final report's is the median over both samples)
    assert.ok(first.parameters.every((p, i) => (p.gradNorm === null) === (final.parameters[i].gradNorm === null)), 'the gradient flow is in the first answer');
    assert.ok(first.layers.every((l) => l.gradient.inputNorm !== null && l.gradient.outputNorm !== null));
    assert.match(first.curvature.reason ?? '', /the analysis had not finished/);
    assert.equal(first.endToEnd.method, 'pending');
    assert.ok(first.verdict, 'the first answer is diagnosed');
    assert.match(phaseSummary(first, true) ?? '', /^First answer/);
    assert.match(phaseSummary(first, false) ?? '', /^Partial: the analysis was stopped with 0 of 10 layers/);
    assert.equal(phaseSummary(final, false), undefined);
    first.layers.forEach((l, i) => {
      const done = final.layers[i].jacobian;
      const look = l.jacobian;
      assert.match(look.note ?? '', /^first answer/);
      assert.equal(look.sigmaMin, null);
      assert.equal(look.conditionNumber, null);
      assert.ok(look.sigmaMax !== null && done.sigmaMax !== null && look.rmsGain !== null && done.rmsGain !== null);
      // against the final medians over two samples, so the tolerances add the spread between the samples
      const spread = (f: 'sigmaMax' | 'rmsGain') => (done.spread?.[f].max ?? 0) - (done.spread?.[f].min ?? 0);
      // sigma_max: a lower bound until its Lanczos residual is small, then an estimate within it
      const err = look.errors?.sigmaMax ?? 0;
      const tol = err + (done.errors?.sigmaMax ?? 0) + spread('sigmaMax') + 1e-6 * done.sigmaMax;
      if (look.kinds?.sigmaMax === 'lower-bound') assert.ok(look.sigmaMax <= done.sigmaMax + tol, `${l.name}: ${look.sigmaMax} <= ${done.sigmaMax}`);
      else assert.ok(Math.abs(look.sigmaMax - done.sigmaMax) <= tol, `${l.name}: ${look.sigmaMax} vs ${done.sigmaMax} ± ${tol}`);
      // the rms gain: a Hutchinson estimate, within four of its standard errors (and the final's error bar)
      const rmsTol = 4 * (look.errors?.rmsGain ?? 0) + 4 * (done.errors?.rmsGain ?? 0) + spread('rmsGain') + 1e-6;
      assert.ok(Math.abs(look.rmsGain - done.rmsGain) <= rmsTol, `${l.name}: rms ${look.rmsGain} vs ${done.rmsGain} ± ${rmsTol}`);
    });
    // refinements replace first looks by full probes, layer by layer, and never lose one
    const fullCounts = partials.map((p) => p.layers.filter((l) => !l.jacobian.note?.startsWith('first answer')).length);
    assert.deepEqual(fullCounts, [...fullCounts].sort((a, b) => a - b));
    assert.equal(fullCounts[0], 0);
  });
});

describe('a partial report in the CLI table and the Markdown', () => {
  it('says it is partial, and a final report does not', async () => {
    const partials: AnalysisReport[] = [];
    const final = await analyzeFile(model('mlp_sigmoid'), { executionProvider: 'cpu', curvatureIterations: 0 }, { onPartial: (r) => partials.push(JSON.parse(JSON.stringify(r))) });
    // the MLP's layers are small enough to be assembled exactly before the first answer
    assert.match(formatReportTable(partials[0]), /\nPartial: the analysis was stopped with 12 of 12 layers probed in full/);
    assert.match(reportMarkdown(partials[0]), /\n> \*\*Partial: the analysis was stopped/);
    assert.doesNotMatch(formatReportTable(final), /Partial:/);
    assert.doesNotMatch(reportMarkdown(final), /Partial:/);
  });
});
