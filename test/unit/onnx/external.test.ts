import * as assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { checkExternalLocation } from '../../../src/core/onnx/external';
import { createOrtRunner } from '../../../src/runtime/ort';
import { loadModelFile } from '../../../src/runtime/modelFile';
import { malformed, model } from '../../helpers';

describe('external data', () => {
  it('loads weights from a data file beside the model, giving the same outputs as the embedded model', async () => {
    const ext = loadModelFile(model('external/mlp_external'));
    const embedded = loadModelFile(model('mlp_sigmoid'));
    assert.deepEqual(ext.externalDataFiles, ['mlp_external.weights']);
    const feeds = { x: { dtype: 'float32' as const, dims: [1, 32], data: Float32Array.from({ length: 32 }, (_, i) => i / 32) } };
    const a = await (await createOrtRunner(ext.model, { executionProvider: 'cpu' })).run(feeds);
    const b = await (await createOrtRunner(embedded.model, { executionProvider: 'cpu' })).run(feeds);
    assert.deepEqual(a.y.data, b.y.data);
  });

  for (const location of ['../escape.bin', '/etc/passwd', 'C:\\weights.bin', 'a/../../b', '']) {
    it(`refuses the location '${location}'`, () => {
      assert.throws(() => checkExternalLocation(location, 'w', 'm.onnx'), /external data must lie inside the model's folder/);
    });
  }

  it('refuses the external_escape fixture, naming the initializer and the path', () => {
    assert.throws(() => loadModelFile(malformed('external_escape.onnx')), /initializer 'w' keeps its data at '..\/escape.bin'/);
  });

  it('refuses a symlink that leads out of the model folder', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'gd-ext-'));
    const folder = path.join(root, 'model');
    mkdirSync(folder);
    copyFileSync(model('external/mlp_external'), path.join(folder, 'm.onnx'));
    copyFileSync(model('external/mlp_external').replace('.onnx', '.weights'), path.join(root, 'outside.weights'));
    symlinkSync(path.join(root, 'outside.weights'), path.join(folder, 'mlp_external.weights'));
    assert.throws(() => loadModelFile(path.join(folder, 'm.onnx')), /resolves to .*outside the model's folder/);
  });

  it('reports a data file that is too short', () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'gd-ext-'));
    copyFileSync(model('external/mlp_external'), path.join(folder, 'm.onnx'));
    writeFileSync(path.join(folder, 'mlp_external.weights'), new Uint8Array(100));
    assert.throws(() => loadModelFile(path.join(folder, 'm.onnx')), /has only 100 bytes/);
    assert.deepEqual(readdirSync(folder).sort(), ['m.onnx', 'mlp_external.weights'], 'nothing written beside the model');
  });
});
