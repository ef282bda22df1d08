import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { reportFailure } from '../../../src/cli/failure';
import { DoctorError } from '../../../src/core/errors';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { endlessLoop } from '../../fixtures/make_fuzz';
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

  it('inspect prints the static summary of a model that does not run, and the failure as a section of its own', () => {
    const r = run('inspect', malformed('wrong_dtype.onnx'));
    assert.equal(r.status, 2);
    assert.match(r.stdout, /Producer .*opset 17/);
    assert.match(r.stdout, /Operators\n {2}MatMul +1/);
    assert.match(r.stdout, /Forward pass failed\n {2}onnxruntime cannot load the model: .*MatMul/);
    assert.match(r.stderr, /^gradient-doctor: error: .*wrong_dtype\.onnx: onnxruntime cannot load the model/);
  });

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

  it('--fail-on exits 1 at or above the level, 0 below it, and says why on stderr', () => {
    const failed = run('analyze', model('mlp_sigmoid'), ...quick, '--fail-on', 'error');
    assert.equal(failed.status, 1);
    assert.equal(failed.stderr, 'gradient-doctor: exit 1: the report has 1 error (--fail-on error)\n');
    const md = run('analyze', model('mlp_sigmoid'), ...quick, '--format', 'md');
    assert.match(md.stdout, /\n1 error, \d+ warnings?, /, 'one error, in the singular');
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
    writeFileSync(config, JSON.stringify({ thresholds: { vanishingGradientWarning: 1e-12, vanishingGradientError: 1e-13 }, learningRate: 100 }));
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

describe('gradient-doctor CLI: bad input and limits (issue 15)', () => {
  const dir = () => mkdtempSync(path.join(tmpdir(), 'gd-cli-'));
  const write = (m: Model) => {
    const file = path.join(dir(), 'm.onnx');
    writeFileSync(file, encodeModel(m).bytes);
    return file;
  };
  const text = malformed('text.onnx');

  it('stops a run past --run-timeout (a Loop of 2^40 iterations) with one line that says so, writing nothing', { timeout: 60_000 }, () => {
    const file = write(endlessLoop());
    const out = path.join(path.dirname(file), 'summary.json');
    const r = run('inspect', file, '--run-timeout', '1', '--out', out);
    assert.equal(r.signal, 'SIGALRM', `ended by the watchdog (status ${r.status}, stderr ${r.stderr})`);
    assert.match(r.stderr, /^gradient-doctor: error: .*m\.onnx: onnxruntime ran for more than 1 s in one call \(the run time limit\) and was stopped; .*--run-timeout <seconds>/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.deepEqual(readdirSync(path.dirname(file)), ['m.onnx']);
  });

  it("keeps onnxruntime's own log off stderr and its C++ locations out of the message", () => {
    // ConstantOfShape to [2^31, 2^31]: onnxruntime fails to allocate, and logs it natively unless told not to
    const m = decodeModel(readFileSync(model('mlp_traced')));
    const shape = { name: 'huge', dataType: DataType.INT64, dims: [2], raw: new Uint8Array(new BigInt64Array([2n ** 31n, 2n ** 31n]).buffer) };
    m.graph.initializers.set('huge', shape);
    m.graph.nodes.push({ name: 'fill', opType: 'ConstantOfShape', domain: '', inputs: ['huge'], outputs: ['filled'], attributes: [], metadata: {} });
    m.graph.outputs.push({ name: 'filled' });
    const r = run('inspect', write(m));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^gradient-doctor: error: .*m\.onnx: onnxruntime failed to run the model: /);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(!r.stderr.includes('\u001b['), 'no coloured native log line');
    assert.doesNotMatch(r.stderr, /\.(cc|h):\d+|onnxruntime::/);
  });

  it('refuses --out into a missing folder or onto a folder before any work (the model is not even read)', () => {
    const missing = run('analyze', text, '--out', path.join(dir(), 'no', 'such', 'r.json'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^gradient-doctor: error: .*r\.json: --out cannot be written: its folder .* cannot be used \(it does not exist\)\n$/);
    const folder = run('inspect', text, '--out', dir());
    assert.equal(folder.status, 2);
    assert.match(folder.stderr, /--out names a folder/);
  });

  it('refuses what-if --write onto the model or an existing file, and compare with a missing second model, before analysing', () => {
    const d = dir();
    const file = path.join(d, 'text.onnx');
    copyFileSync(text, file);
    const onModel = run('what-if', file, '--write', file);
    assert.equal(onModel.status, 2);
    assert.match(onModel.stderr, /refusing to overwrite the original model/);
    writeFileSync(path.join(d, 'taken.onnx'), 'x');
    const onFile = run('what-if', file, '--write', path.join(d, 'taken.onnx'));
    assert.match(onFile.stderr, /refusing to overwrite an existing file/);
    const compare = run('compare', file, path.join(d, 'missing.onnx'));
    assert.equal(compare.status, 2);
    assert.match(compare.stderr, /missing\.onnx: cannot read the candidate model: it does not exist\n$/);
  });

  it('prints a usage error as one line and a hint, not the whole help', () => {
    for (const args of [['analyze'], ['analyze', model('mlp_sigmoid'), '--bogus'], ['frobnicate']]) {
      const r = run(...args);
      assert.equal(r.status, 2);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 2, r.stderr);
      assert.match(lines[0], /^gradient-doctor: error: /);
      assert.match(lines[1], /^\(run 'gradient-doctor (analyze )?--help' for /);
    }
  });

  it("help shows the run time limit's default and no '(default: {})'", () => {
    const r = run('analyze', '--help');
    assert.equal(r.status, 0);
    assert.doesNotMatch(r.stdout, /\(default: \{\}\)/);
    assert.match(r.stdout, /--run-timeout <seconds>\s+time limit on each onnxruntime call.*\(default: 300\)/s);
  });

  it('reports an error that is not a DoctorError as a bug in Gradient Doctor, with exit code 3', () => {
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
    try {
      assert.equal(reportFailure(new TypeError("Cannot read properties of null (reading 'initializer')")), 3);
      assert.equal(reportFailure(new DoctorError('bad-input', 'no such model', 'm.onnx')), 2);
    } finally {
      process.stderr.write = original;
    }
    assert.match(written[0], /^gradient-doctor: internal error: Cannot read properties of null.*\nThis is a bug in Gradient Doctor, not a problem with your input\. Please report it/);
    assert.equal(written[1], 'gradient-doctor: error: m.onnx: no such model\n');
  });
});
