import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { activationElements, estimateMemory, planForBudget } from '../../../src/core/analysis/memory';
import { analyzeModel, DEFAULT_ANALYZE_OPTIONS } from '../../../src/core/analysis/analyze';
import { DEFAULT_PROBE_LIMITS } from '../../../src/core/analysis/jacobian';
import { ForwardPass } from '../../../src/core/autodiff/probe';
import { DEFAULT_SAMPLE_OPTIONS, prepareSamples } from '../../../src/core/inputs/prepare';
import { sizeOf } from '../../../src/core/ndarray';
import { decodeModel } from '../../../src/core/onnx/decode';
import { withRunHooks } from '../../../src/core/ports';
import { loadModelFile } from '../../../src/runtime/modelFile';
import { createOrtRunner } from '../../../src/runtime/ort';
import { model } from '../../helpers';

const MB = 2 ** 20;
const versions = { ort: 'test', tool: 'test' };

describe('the memory budget', () => {
  for (const name of ['mlp_relu_he', 'resnet_small', 'transformer', 'lstm']) {
    it(`estimates ${name}'s activations from its shapes, never below what the forward pass holds`, async () => {
      const loaded = loadModelFile(model(name));
      const sample = prepareSamples(loaded.model, DEFAULT_SAMPLE_OPTIONS, loaded.path).samples[0];
      const dims = new Map(Object.entries(sample).map(([k, v]) => [k, v.dims]));
      const forward = await ForwardPass.run(loaded.model, sample, createOrtRunner, 'cpu');
      let actual = 0;
      for (const n of loaded.model.graph.nodes) for (const o of n.outputs) actual += sizeOf(forward.values.get(o)?.dims ?? [0]);
      const estimate = activationElements(loaded.model, dims);
      assert.ok(estimate >= actual && estimate <= 4 * actual, `${estimate} elements estimated, ${actual} held`);
    });
  }

  it('refuses a fixed batch of 4 million rows in a second, before any session, saying what it needs and the option that raises the budget', async () => {
    const m = decodeModel(readFileSync(model('mlp_relu_he')));
    const input = m.graph.inputs[0];
    assert.ok(input.type?.kind === 'tensor');
    input.type.shape = [4_000_000, ...(input.type.shape ?? []).slice(1)];
    let sessions = 0;
    const counting = withRunHooks(createOrtRunner, { beforeSession: () => sessions++ });
    const t0 = performance.now();
    await assert.rejects(
      analyzeModel({ ...loadModelFile(model('mlp_relu_he')), model: m }, { ...DEFAULT_ANALYZE_OPTIONS, executionProvider: 'cpu', samples: DEFAULT_SAMPLE_OPTIONS }, counting, versions),
      (e: Error) => /needs about \d+(\.\d)? GB .*more than the memory budget of 4\.0 GB; most of it is one sample's activations .*--memory-budget \d+, or the setting gradientDoctor\.memoryBudgetMB/.test(e.message),
    );
    assert.equal(sessions, 0, 'no onnxruntime session was made');
    assert.ok(performance.now() - t0 < 60_000);
  });

  it('lowers the probe batches, then skips the curvature, to fit a smaller budget, and says so in the report', async () => {
    const loaded = loadModelFile(model('resnet_small'));
    const sample = prepareSamples(loaded.model, DEFAULT_SAMPLE_OPTIONS, loaded.path).samples[0];
    const dims = new Map(Object.entries(sample).map(([k, v]) => [k, v.dims]));
    const lowered = { probeBatchElements: 500_000, exactMaxEntries: 2 * 1024 * 1024 };
    const withCurvature = estimateMemory(loaded.model, dims, lowered, true).bytes / MB;
    const without = estimateMemory(loaded.model, dims, lowered, false).bytes / MB;
    assert.ok(without < withCurvature);
    // a budget between the two: the probes get smaller and the curvature is skipped
    const budget = (without + withCurvature) / 2;
    {
      const plan = planForBudget(loaded.model, dims, budget, DEFAULT_PROBE_LIMITS, true);
      assert.equal(plan.curvature, false);
      assert.equal(plan.probeBatchElements, 500_000);
      const r = await analyzeModel(loaded, { ...DEFAULT_ANALYZE_OPTIONS, executionProvider: 'cpu', samples: DEFAULT_SAMPLE_OPTIONS, memoryBudgetMB: budget }, createOrtRunner, versions);
      assert.equal(r.curvature.hessianMaxEigenvalue, null);
      assert.match(r.curvature.reason ?? '', /memory budget of [\d.]+ MB/);
      assert.deepEqual(r.run.memory?.lowered?.length, 2);
      assert.ok(r.layers.every((l) => l.jacobian.sigmaMax !== null), 'every layer is still probed');
    }
    // the default budget changes nothing
    const plan = planForBudget(loaded.model, dims, 4096, DEFAULT_PROBE_LIMITS, true);
    assert.deepEqual(plan.lowered, []);
    assert.equal(plan.probeBatchElements, DEFAULT_PROBE_LIMITS.probeBatchElements);
  });
});
