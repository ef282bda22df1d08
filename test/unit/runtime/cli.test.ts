import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { malformed, model, ROOT, sampleFile } from '../../helpers';

const cli = path.join(ROOT, 'dist', 'cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('gradient-doctor CLI (dist/cli.js)', () => {
  assert.ok(existsSync(cli), 'run `npm run build` first: dist/cli.js is missing');

  it('inspect prints the summary and exits 0', () => {
    const r = run('inspect', model('lstm'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Parameters {2}\d/);
    assert.match(r.stdout, /tokens {2}int64 \[sequence, batch\] {2}sample \[16, 1\]: integers in \[0, 50\)/);
    assert.match(r.stdout, /Runs on {5}CPU \(onnxruntime-node 1\.30\.0\)/);
    assert.match(r.stdout, /LSTM\s+1/);
    assert.equal(r.stderr, '', 'no progress output when stderr is not a terminal');
  });

  it('inspect --format json writes the result to --out, and --dim binds a symbolic dimension', () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'gd-cli-')), 'summary.json');
    const r = run('inspect', model('lstm'), '--format', 'json', '--out', out, '--dim', 'sequence=5', '--dim', 'batch=2');
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    assert.deepEqual(json.outputs[0].dims, [2, 5]);
    assert.equal(json.summary.nodeCount, 16);
  });

  it('inspect --inputs feeds sample files', () => {
    const r = run('inspect', model('transformer'), '--inputs', sampleFile('transformer.npz'), '--format', 'json');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).outputs[0].dims, [3, 4]);
  });

  const bad = ['empty.onnx', 'text.onnx', 'image.onnx', 'truncated.onnx', 'wrong_dtype.onnx', 'missing_initializer.onnx', 'cycle.onnx', 'external_escape.onnx', 'string_input.onnx'];
  for (const file of bad) {
    it(`exits 2 with a message naming ${file}, writing nothing beside it`, () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'gd-cli-'));
      copyFileSync(malformed(file), path.join(dir, file));
      const r = run('inspect', path.join(dir, file));
      assert.equal(r.status, 2, r.stdout);
      assert.match(r.stderr, new RegExp(`^gradient-doctor: error: ${path.join(dir, file).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
      assert.deepEqual(readdirSync(dir), [file]);
    });
  }

  it('exits 2 on a sample file that does not match the model', () => {
    const r = run('inspect', model('mlp_sigmoid'), '--inputs', sampleFile('mlp_x_float64.npy'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /expects float32, but the file holds float64/);
  });

  it('exits 2 on bad usage', () => {
    assert.equal(run('inspect').status, 2);
    assert.equal(run('inspect', model('lstm'), '--ep', 'tpu').status, 2);
    assert.equal(run('frobnicate').status, 2);
  });

  it('prints its version', () => {
    const r = run('--version');
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });
});

describe('gradient-doctor analyze / what-if: findings, --fail-on, thresholds and config', () => {
  const quick = ['--curvature-iterations', '0'];

  it('the table leads with the verdict and lists the findings with why and fix', () => {
    const r = run('analyze', model('mlp_sigmoid'), ...quick);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Pathological: Vanishing gradient/);
    assert.match(r.stdout, /✖ error {4}Vanishing gradient/);
    assert.match(r.stdout, /why: /);
    assert.match(r.stdout, /fix: Swap the 11 hidden Sigmoid activations/);
  });

  it('--fail-on exits 1 at or above the level, 0 below it', () => {
    assert.equal(run('analyze', model('mlp_sigmoid'), ...quick, '--fail-on', 'error').status, 1);
    assert.equal(run('analyze', model('mlp_tanh_overscaled'), ...quick, '--fail-on', 'error').status, 0);
    assert.equal(run('analyze', model('mlp_tanh_overscaled'), ...quick, '--fail-on', 'warning').status, 1);
    assert.equal(run('analyze', model('mlp_relu_he'), ...quick, '--fail-on', 'warning').status, 0);
  });

  it('--threshold and a config file override thresholds by name; bad names exit 2 naming them', () => {
    const raised = run('analyze', model('mlp_sigmoid'), ...quick, '--format', 'json', '--threshold', 'vanishingGradientError=1e-12');
    assert.equal(raised.status, 0, raised.stderr);
    const f = JSON.parse(raised.stdout).findings.find((x: { rule: string }) => x.rule === 'vanishing-gradient');
    assert.equal(f.severity, 'warning');
    const dir = mkdtempSync(path.join(tmpdir(), 'gd-cli-'));
    const config = path.join(dir, 'gd.json');
    writeFileSync(config, JSON.stringify({ thresholds: { vanishingGradientWarning: 1e-12, vanishingGradientError: 1e-13 }, learningRate: 10 }));
    const r = run('analyze', model('mlp_sigmoid'), '--curvature-iterations', '4', '--format', 'json', '--config', config);
    assert.equal(r.status, 0, r.stderr);
    const findings = JSON.parse(r.stdout).findings as Array<{ rule: string; severity: string }>;
    assert.ok(!findings.some((x) => x.rule === 'vanishing-gradient'));
    assert.equal(findings.find((x) => x.rule === 'learning-rate')?.severity, 'warning');
    const bad = run('analyze', model('mlp_sigmoid'), ...quick, '--threshold', 'vanishing=1');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown threshold "vanishing"/);
    writeFileSync(config, JSON.stringify({ treshold: {} }));
    const typo = run('analyze', model('mlp_sigmoid'), ...quick, '--config', config);
    assert.equal(typo.status, 2);
    assert.match(typo.stderr, /unknown key "treshold" in the config file/);
  });

  it('what-if prints before and after, and --write leaves a patched copy beside the model', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gd-cli-'));
    const file = path.join(dir, 'tanh.onnx');
    copyFileSync(model('mlp_tanh_overscaled'), file);
    const r = run('what-if', file, ...quick, '--fix', 'mis-scaled-init', '--write');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /What-if: 10 changes applied to an in-memory copy/);
    assert.match(r.stdout, /Verdict {4}at-risk → healthy/);
    assert.match(r.stdout, /Resolved {3}\d+/);
    assert.deepEqual(readdirSync(dir).sort(), ['tanh.onnx', 'tanh.whatif.onnx']);
    const again = run('what-if', file, ...quick, '--fix', 'mis-scaled-init', '--write');
    assert.equal(again.status, 2);
    assert.match(again.stderr, /refusing to overwrite an existing file/);
  });
});
