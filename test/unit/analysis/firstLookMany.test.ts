import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findLayers } from '../../../src/core/analysis/layers';
import { DEFAULT_PROBE_LIMITS, FIRST_LOOK_STEPS, probeFirstLookMany, probeJacobian, type JacobianFigures } from '../../../src/core/analysis/jacobian';
import { DerivativeRunner, ForwardPass } from '../../../src/core/autodiff/probe';
import { DEFAULT_SAMPLE_OPTIONS, prepareSamples } from '../../../src/core/inputs/prepare';
import { Rng } from '../../../src/core/inputs/rng';
import { withRunHooks } from '../../../src/core/ports';
import { loadModelFile } from '../../../src/runtime/modelFile';
import { createOrtRunner } from '../../../src/runtime/ort';
import { model } from '../../helpers';

describe('probeFirstLookMany', () => {
  for (const name of ['resnet_small', 'transformer']) {
    it(`looks at every layer of ${name} in a few merged runs, within the error bars of each layer's full probe`, async () => {
      const loaded = loadModelFile(model(name));
      const sample = prepareSamples(loaded.model, { ...DEFAULT_SAMPLE_OPTIONS }).samples[0];
      const forward = await ForwardPass.run(loaded.model, sample, createOrtRunner, 'cpu');
      const counts = { sessions: 0 };
      const runner = new DerivativeRunner(forward, loaded.order, 17, withRunHooks(createOrtRunner, { beforeSession: () => counts.sessions++ }), 'cpu');
      const shapeOf = (t: string) => forward.shape(t) ?? [];
      const spans = findLayers(loaded.model, loaded.order, 'layer').map((l) => ({ sources: l.inputTensors, targets: l.outputTensors }));
      try {
        const looks = await probeFirstLookMany(runner, spans, shapeOf, new Rng(3), DEFAULT_PROBE_LIMITS);
        const merged = looks.filter((l): l is JacobianFigures => !(l instanceof Error) && /merged runs/.test(l.note ?? ''));
        assert.ok(merged.length >= spans.length / 2, `${merged.length} of ${spans.length} layers looked at in merged runs`);
        // Lanczos steps (a product each way) and one Hutchinson run, per chunk; sessions: two per chunk
        assert.ok(runner.runs <= 2 * (2 * FIRST_LOOK_STEPS + 1) + 1, `${runner.runs} runs`);
        assert.ok(counts.sessions < spans.length, `${counts.sessions} sessions for ${spans.length} layers`);
        for (const [i, span] of spans.entries()) {
          const look = looks[i];
          assert.ok(!(look instanceof Error), `${span.targets[0]}: ${look instanceof Error ? look.message : ''}`);
          const full = await probeJacobian(runner, span, shapeOf, new Rng(5));
          const tol = look.errors.sigmaMax + full.errors.sigmaMax + 1e-6 * full.sigmaMax;
          if (look.kinds?.sigmaMax === 'lower-bound') assert.ok(look.sigmaMax <= full.sigmaMax + tol, `${span.targets[0]}: ${look.sigmaMax} <= ${full.sigmaMax}`);
          else assert.ok(Math.abs(look.sigmaMax - full.sigmaMax) <= tol, `${span.targets[0]}: sigma_max ${look.sigmaMax} vs ${full.sigmaMax} ± ${tol}`);
          const rmsTol = 4 * look.errors.rmsGain + 4 * full.errors.rmsGain + 1e-9;
          assert.ok(Math.abs(look.rmsGain - full.rmsGain) <= rmsTol, `${span.targets[0]}: rms ${look.rmsGain} vs ${full.rmsGain} ± ${rmsTol}`);
        }
      } finally {
        await runner.dispose();
      }
    });
  }
});
