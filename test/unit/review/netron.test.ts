import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { firstSentence, memberFindings } from '../../../src/core/diagnosis/group';
import { decodeModel } from '../../../src/core/onnx/decode';
import { reportNetron, type NetronAttachment, type NetronEntry } from '../../../src/core/report/netron';
import type { AnalysisReport } from '../../../src/core/report/types';
import { model, ROOT } from '../../helpers';

const cli = path.join(ROOT, 'dist', 'cli.js');

function run(name: string, format: string, out: string): void {
  const r = spawnSync(process.execPath, [cli, 'analyze', model(name), '--format', format, '--out', out, '--samples', '2', '--curvature-iterations', '4', '--no-progress'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

function analysis(name: string): AnalysisReport {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'gd-netron-')), `${name}.json`);
  run(name, 'json', out);
  return JSON.parse(readFileSync(out, 'utf8')) as AnalysisReport;
}

/** What Netron's sidebar shows for one object: its entries by name (Netron keys them by kind and target, then name). */
function lookup(a: NetronAttachment, list: 'metadata' | 'metrics', kind: NetronEntry['kind'], target: string): Map<string, string | number> {
  return new Map(a[list].filter((e) => e.kind === kind && e.target === target).map((e) => [e.name, e.value]));
}

const sig4 = (x: number) => Number(x.toPrecision(4));

/** Every target names an object Netron shows for this ONNX model, and no name repeats within one. */
function assertTargetsExist(a: NetronAttachment, name: string): void {
  const g = decodeModel(new Uint8Array(readFileSync(model(name)))).graph;
  const nodes = new Set(g.nodes.map((n) => n.name));
  const values = new Set([...g.inputs.map((v) => v.name), ...g.nodes.flatMap((n) => [...n.inputs, ...n.outputs])]);
  const known = { model: new Set(['']), graph: new Set([g.name]), node: nodes, value: values, tensor: new Set(g.initializers.keys()) };
  const keys = new Set<string>();
  for (const list of ['metadata', 'metrics'] as const) {
    for (const e of a[list]) {
      assert.ok(known[e.kind].has(e.target), `${list} ${e.kind} '${e.target}' is not in ${name}.onnx`);
      const key = `${list}:${e.kind}:${e.target}:${e.name}`;
      assert.ok(!keys.has(key), `duplicate ${key}: Netron would show only one`);
      keys.add(key);
      assert.ok(typeof e.value === 'string' ? e.value.length > 0 : Number.isFinite(e.value) || !Number.isNaN(e.value), `${key} has an empty value`);
    }
  }
}

describe('Netron attachment (analyze --format netron)', () => {
  it('puts each layer\'s figures on its nodes, gradients on the edges and weights, findings as metadata, all on names in the model', () => {
    const report = analysis('mlp_sigmoid');
    const a = reportNetron(report);
    assert.equal(a.signature, 'netron:attachment');
    assertTargetsExist(a, 'mlp_sigmoid');
    for (const l of report.layers) {
      for (const node of l.nodes) {
        const m = lookup(a, 'metrics', 'node', node);
        assert.equal(m.get('sigma_max'), sig4(l.jacobian.sigmaMax!), `${node} sigma_max`);
        assert.equal(m.get('sigma_min'), sig4(l.jacobian.sigmaMin!));
        assert.equal(m.get('rms_gain'), sig4(l.jacobian.rmsGain!));
        assert.equal(m.get('condition'), sig4(l.jacobian.conditionNumber!));
        assert.equal(m.get('grad_norm_in'), sig4(l.gradient.inputNorm!));
        assert.match(String(lookup(a, 'metadata', 'node', node).get('jacobian')), /^exact \(dense SVD of the assembled 32x32 Jacobian\)$/);
      }
      assert.equal(lookup(a, 'metrics', 'value', l.inputTensors[0]).get('grad_norm'), sig4(l.gradient.inputNorm!));
    }
    for (const p of report.parameters) assert.equal(lookup(a, 'metrics', 'tensor', p.name).get('grad_norm'), sig4(p.gradNorm!), p.name);
    // every finding is shown somewhere, with its severity, rule and fix; a group's members each on its own
    const texts = a.metadata.map((e) => String(e.value));
    for (const f of report.findings.flatMap(memberFindings)) assert.ok(texts.some((t) => t.startsWith(`${f.severity} [${f.rule}] ${f.message}`) && (!f.fix || t.includes(`Fix: ${f.fix}`))), `finding ${f.id} is missing`);
    // the 12 contracting layers are one finding: each member on its own layer's node, with the group it belongs to
    const group = report.findings.find((f) => f.rule === 'contracting-layer')!;
    assert.equal(group.members?.length, 12);
    for (const m of group.members!) {
      const node = report.layers.find((l) => l.name === m.layer)!.nodes[0];
      const on = [...lookup(a, 'metadata', 'node', node).values()].map(String).filter((t) => t.startsWith('warning [contracting-layer]'));
      assert.equal(on.length, 1, `${node}: ${on.join(' | ')}`);
      assert.ok(on[0].startsWith(`warning [contracting-layer] ${m.message}`) && on[0].includes(`In the group: ${firstSentence(group.message)}`), on[0]);
    }
    const first = lookup(a, 'metadata', 'node', report.layers[0].nodes[0]);
    assert.match(String(first.get('finding 1')), /^error \[vanishing-gradient\]/);
    assert.equal(lookup(a, 'metadata', 'model', '').get('verdict'), report.verdict!.headline);
    assert.equal(lookup(a, 'metrics', 'model', '').get('lyapunov_exp'), sig4(report.endToEnd.lyapunovExponent!));
    assert.equal(lookup(a, 'metrics', 'model', '').get('hessian_lambda'), sig4(report.curvature.hessianMaxEigenvalue!));
    assert.equal(lookup(a, 'metadata', 'model', '').get('curvature'), `hessian_lambda ± ${sig4(report.curvature.error!)}: ${report.curvature.method}`);
  });

  it('says when figures are Lanczos estimates and gives their error bars (residual network)', () => {
    const report = analysis('resnet_small');
    const a = reportNetron(report);
    assertTargetsExist(a, 'resnet_small');
    const estimated = report.layers.filter((l) => l.jacobian.method === 'lanczos');
    assert.ok(estimated.length > 0, 'resnet_small has layers above the exact size');
    for (const l of estimated) {
      const text = String(lookup(a, 'metadata', 'node', l.nodes[0]).get('jacobian'));
      assert.match(text, /^lanczos estimate; error bars ±/);
      assert.ok(text.includes(`±${sig4(l.jacobian.errors!.sigmaMax)} (sigma_max)`), text);
    }
  });

  it('the CLI writes the same attachment, and refuses an --out that would overwrite the model', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gd-netron-'));
    const out = path.join(dir, 'mlp_sigmoid.netron.json');
    run('mlp_sigmoid', 'netron', out);
    const written = JSON.parse(readFileSync(out, 'utf8')) as NetronAttachment;
    const json = path.join(dir, 'mlp_sigmoid.json');
    run('mlp_sigmoid', 'json', json);
    assert.deepEqual(written, reportNetron(JSON.parse(readFileSync(json, 'utf8')) as AnalysisReport));
    const before = readFileSync(model('mlp_sigmoid'));
    const refused = spawnSync(process.execPath, [cli, 'analyze', model('mlp_sigmoid'), '--format', 'netron', '--out', model('mlp_sigmoid')], { encoding: 'utf8' });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /mlp_sigmoid\.onnx: --out names a model or a file this command reads; refusing to overwrite it/);
    assert.deepEqual(readFileSync(model('mlp_sigmoid')), before);
  });
});
