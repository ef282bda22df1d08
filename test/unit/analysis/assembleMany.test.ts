import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findLayers } from '../../../src/core/analysis/layers';
import { assembleMany, DEFAULT_PROBE_LIMITS, EXACT_MAX_DIM, probeJacobian, spanKey } from '../../../src/core/analysis/jacobian';
import { DerivativeRunner, ForwardPass } from '../../../src/core/autodiff/probe';
import { DEFAULT_SAMPLE_OPTIONS, prepareSamples } from '../../../src/core/inputs/prepare';
import { Rng } from '../../../src/core/inputs/rng';
import { withRunHooks } from '../../../src/core/ports';
import { loadModelFile } from '../../../src/runtime/modelFile';
import { createOrtRunner } from '../../../src/runtime/ort';
import { model } from '../../helpers';

/** A fixture's forward pass, layers and a derivative runner that counts its sessions. */
async function setUp(name: string) {
  const loaded = loadModelFile(model(name));
  const sample = prepareSamples(loaded.model, { ...DEFAULT_SAMPLE_OPTIONS }).samples[0];
  const forward = await ForwardPass.run(loaded.model, sample, createOrtRunner, 'cpu');
  const counts = { sessions: 0 };
  const runner = new DerivativeRunner(forward, loaded.order, 17, withRunHooks(createOrtRunner, { beforeSession: () => counts.sessions++ }), 'cpu');
  const layers = findLayers(loaded.model, loaded.order, 'layer');
  const shapeOf = (t: string) => forward.shape(t) ?? [];
  return { loaded, forward, runner, layers, shapeOf, counts };
}

describe('assembleMany', () => {
  // the transformer's and resnet_small's exact layers are each larger than a merged chunk's share of the
  // default probe batch: a larger batch merges them, to check layers of different kinds and shapes together
  for (const [name, batch] of [['mlp_sigmoid', 1], ['transformer', 8], ['resnet_small', 8]] as const) {
    it(`assembles ${name}'s small layers in merged runs, to the same figures as one layer at a time`, async () => {
      const { runner, layers, shapeOf, counts } = await setUp(name);
      const spans = layers.map((l) => ({ sources: l.inputTensors, targets: l.outputTensors }));
      try {
        const runs0 = runner.runs;
        const assembled = await assembleMany(runner, spans, shapeOf, EXACT_MAX_DIM, { ...DEFAULT_PROBE_LIMITS, probeBatchElements: batch * DEFAULT_PROBE_LIMITS.probeBatchElements });
        assert.ok(assembled.size > 1, `${assembled.size} layers assembled together`);
        assert.ok(runner.runs - runs0 < assembled.size, `${runner.runs - runs0} runs for ${assembled.size} layers`);
        assert.ok(counts.sessions < assembled.size, `${counts.sessions} sessions for ${assembled.size} layers`);
        for (const span of spans) {
          const j = assembled.get(spanKey(span));
          if (!j) continue;
          const merged = await probeJacobian(runner, span, shapeOf, new Rng(0), undefined, EXACT_MAX_DIM, DEFAULT_PROBE_LIMITS, j);
          const alone = await probeJacobian(runner, span, shapeOf, new Rng(0));
          assert.equal(merged.method, 'exact');
          for (const k of ['sigmaMax', 'sigmaMin', 'rmsGain'] as const) {
            assert.ok(Math.abs(merged[k] - alone[k]) <= 1e-9 * Math.max(alone.sigmaMax, 1e-30), `${span.targets[0]} ${k}: ${merged[k]} merged vs ${alone[k]} alone`);
          }
        }
      } finally {
        await runner.dispose();
      }
    });
  }

  it('assembles wide spans by rows through merged reverse-mode models, several sources split in order', async () => {
    const { runner, layers, shapeOf } = await setUp('mlp_sigmoid');
    // two sources and one target: n = 2 x 32 > m = 32, so the rows come from J^T u
    const wide = [1, 4, 7].map((i) => ({ sources: [layers[i].inputTensors[0], layers[i + 1].inputTensors[0]], targets: layers[i + 1].outputTensors }));
    try {
      const assembled = await assembleMany(runner, wide, shapeOf, EXACT_MAX_DIM, DEFAULT_PROBE_LIMITS);
      assert.equal(assembled.size, wide.length);
      for (const span of wide) {
        const alone = await probeJacobian(runner, span, shapeOf, new Rng(0));
        const merged = await probeJacobian(runner, span, shapeOf, new Rng(0), undefined, EXACT_MAX_DIM, DEFAULT_PROBE_LIMITS, assembled.get(spanKey(span)));
        assert.equal(alone.inputSize, 64);
        for (const k of ['sigmaMax', 'sigmaMin', 'rmsGain'] as const) assert.ok(Math.abs(merged[k] - alone[k]) <= 1e-9 * alone.sigmaMax, `${k}: ${merged[k]} vs ${alone[k]}`);
      }
    } finally {
      await runner.dispose();
    }
  });

  it('leaves out spans too large for one run, and spans through an operator without a rule keep their own path', async () => {
    const { runner, layers, shapeOf } = await setUp('mlp_sigmoid');
    const spans = layers.map((l) => ({ sources: l.inputTensors, targets: l.outputTensors }));
    try {
      const tight = await assembleMany(runner, spans, shapeOf, EXACT_MAX_DIM, { ...DEFAULT_PROBE_LIMITS, probeBatchElements: 100 });
      assert.equal(tight.size, 0);
    } finally {
      await runner.dispose();
    }
  });
});
