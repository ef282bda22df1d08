import * as assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { applyRemedies, orthogonal, remediesOf } from '../../../src/core/diagnosis/remedies';
import { Rng } from '../../../src/core/inputs/rng';
import { tensorToFloat64 } from '../../../src/core/onnx/tensorData';
import { analyzeFile, whatIfFile } from '../../../src/runtime/engine';
import { model as fixture } from '../../helpers';
import { analyze, byRule, load, variant } from './helpers';

const quick = { executionProvider: 'cpu' as const, curvatureIterations: 0 };

describe('what-if previews', () => {
  it('the vanishing-gradient fix, applied to the sigmoid MLP, raises the gradient reaching the first layer by orders of magnitude', async () => {
    const w = await whatIfFile(fixture('mlp_sigmoid'), { fixes: ['vanishing-gradient'] }, quick);
    const [before, after] = w.layers[0].gradientInput;
    assert.ok(after! / before! > 1e6, `${before} -> ${after}`);
    assert.ok(w.resolved.some((f) => f.rule === 'vanishing-gradient'));
    assert.equal(byRule(w.after, 'vanishing-gradient').length, 0);
    assert.deepEqual(w.verdict, ['pathological', 'healthy']);
    assert.ok(w.applied.some((r) => r.kind === 'swap-activation'));
  });

  it('the exploding-layer rescale brings each over-scaled tanh layer\'s gain near 1', async () => {
    const w = await whatIfFile(fixture('mlp_tanh_overscaled'), { fixes: ['exploding-layer'] }, quick);
    for (const l of w.layers) {
      assert.ok(l.rmsGain[1]! > 0.6 && l.rmsGain[1]! < 1.2, `${l.name} rms gain ${l.rmsGain[1]}`);
      assert.ok(l.sigmaMax[1]! < 2, `${l.name} sigma_max ${l.sigmaMax[1]}`);
    }
    assert.ok(w.endToEnd.sigmaMax[1]! < 2);
    assert.equal(byRule(w.after, 'exploding-layer').length, 0);
    assert.equal(w.introduced.filter((f) => f.severity !== 'info').length, 0, JSON.stringify(w.introduced.map((f) => f.id)));
  });

  it('never writes the user\'s model; --write puts a patched copy beside it and refuses to overwrite', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gd-whatif-'));
    const file = path.join(dir, 'net.onnx');
    copyFileSync(fixture('mlp_tanh_overscaled'), file);
    const original = readFileSync(file);
    await whatIfFile(file, { fixes: [] }, quick);
    assert.deepEqual(readdirSync(dir), ['net.onnx']);
    const w = await whatIfFile(file, { fixes: ['mis-scaled-init'], write: true }, quick);
    assert.equal(w.written, path.join(dir, 'net.whatif.onnx'));
    assert.deepEqual(readFileSync(file), original, 'the original is byte for byte unchanged');
    assert.ok(byRule(await analyzeFile(file, quick), 'mis-scaled-init').length > 0);
    assert.equal(byRule(await analyzeFile(w.written!, quick), 'mis-scaled-init').length, 0, 'the written copy has the fix');
    await assert.rejects(whatIfFile(file, { fixes: ['mis-scaled-init'], write: true }, quick), /refusing to overwrite an existing file/);
    await assert.rejects(whatIfFile(file, { fixes: ['mis-scaled-init'], write: file }, quick), /refusing to overwrite the original model/);
  });

  it('applyRemedies leaves the input model untouched and refuses what the model does not have', () => {
    const m = load('mlp_sigmoid');
    const before = tensorToFloat64(m.graph.initializers.get('layers.0.weight')!);
    const { model: copy } = applyRemedies(m, [{ kind: 'rescale', parameter: 'layers.0.weight', factor: 2 }, { kind: 'swap-activation', node: '/Sigmoid', from: 'Sigmoid', to: 'Tanh' }]);
    assert.deepEqual(tensorToFloat64(m.graph.initializers.get('layers.0.weight')!), before);
    assert.equal(m.graph.nodes.find((n) => n.name === '/Sigmoid')!.opType, 'Sigmoid');
    assert.deepEqual(tensorToFloat64(copy.graph.initializers.get('layers.0.weight')!), before.map((x) => Math.fround(x * 2)));
    assert.equal(copy.graph.nodes.find((n) => n.name === '/Sigmoid')!.opType, 'Tanh');
    assert.throws(() => applyRemedies(m, [{ kind: 'rescale', parameter: 'nope', factor: 2 }]), /no initializer 'nope'/);
    assert.throws(() => applyRemedies(m, [{ kind: 'swap-activation', node: '/Sigmoid', from: 'Relu', to: 'Tanh' }]), /is Sigmoid, not Relu/);
    assert.throws(() => remediesOf([], ['nothing']), /no finding 'nothing'/);
  });

  it('the residual scaling of an end-to-end explosion scales every residual branch and lowers sigma_max', async () => {
    // residual branches whose BatchNorm scales are 30x: the blocks' gains add up
    const hot = ['layer1.0.bn2.weight', 'layer2.0.bn2.weight', 'layer3.0.bn2.weight'].map((parameter) => ({ kind: 'rescale' as const, parameter, factor: 30 }));
    const m = variant('resnet_small', hot);
    const thresholds = { endToEndSigmaMax: 0.1 };
    const before = await analyze(m, { diagnosis: { thresholds } });
    const [f] = byRule(before, 'end-to-end-explosion');
    assert.equal(f.remedies?.length, 3, 'three residual joins in the small ResNet');
    assert.ok(f.remedies!.every((r) => r.kind === 'residual-scale' && Math.abs(r.factor - 1 / Math.sqrt(3)) < 1e-12));
    const join = f.remedies![0] as { node: string; input: number };
    const branch = m.graph.nodes.find((n) => n.name === join.node)!.inputs[join.input];
    assert.notEqual(m.graph.nodes.find((n) => n.outputs.includes(branch))!.opType, 'Relu', 'the branch, not the skip, is scaled');
    const after = await analyze(applyRemedies(m, f.remedies!).model, { diagnosis: { thresholds } });
    assert.ok(after.endToEnd.sigmaMax! < before.endToEnd.sigmaMax!, `${before.endToEnd.sigmaMax} -> ${after.endToEnd.sigmaMax}`);
  });

  it('an orthogonal re-init gives a weight of condition 1', async () => {
    const q = orthogonal(6, 10, new Rng(1));
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 6; j++) {
        let d = 0;
        for (let k = 0; k < 10; k++) d += q[i * 10 + k] * q[j * 10 + k];
        assert.ok(Math.abs(d - (i === j ? 1 : 0)) < 1e-12);
      }
    }
    const { model: ortho } = applyRemedies(load('mlp_tanh_overscaled'), [{ kind: 'reinit', parameter: 'layers.0.weight', scheme: 'orthogonal', std: 0, gain: 1 }]);
    const r = await analyze(ortho);
    const p = r.parameters.find((x) => x.name === 'layers.0.weight')!;
    assert.ok(Math.abs(p.conditionNumber! - 1) < 1e-4 && Math.abs(p.spectralNorm! - 1) < 1e-4, `${p.conditionNumber} ${p.spectralNorm}`);
  });
});
