import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
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
