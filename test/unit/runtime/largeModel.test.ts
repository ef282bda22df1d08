import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { encodeModel } from '../../../src/core/onnx/encode';
import { DataType, type Model } from '../../../src/core/onnx/types';

const N = 8192; // one 8192 x 8192 float32 weight: 256 MiB

/** A model with one huge MatMul weight, written to a temporary file. */
function writeLargeModel(file: string): void {
  const w = new Float32Array(N * N);
  for (let i = 0; i < w.length; i += 4097) w[i] = 1;
  const tensor = (name: string) => ({ name, type: { kind: 'tensor' as const, elemType: DataType.FLOAT, shape: [1, N] } });
  const model: Model = {
    irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 'test', producerVersion: '', domain: '', modelVersion: 0, docString: '', metadata: {}, passthrough: {},
    graph: {
      name: 'large', nodes: [{ name: 'mm', opType: 'MatMul', domain: '', inputs: ['x', 'w'], outputs: ['y'], attributes: [], metadata: {} }],
      initializers: new Map([['w', { name: 'w', dataType: DataType.FLOAT, dims: [N, N], raw: new Uint8Array(w.buffer) }]]),
      inputs: [tensor('x')], outputs: [tensor('y')], valueInfo: [], metadata: {}, passthrough: {},
    },
  };
  writeFileSync(file, encodeModel(model).bytes);
}

describe('large models', () => {
  it('load, compile and run holding the weights twice at most (ours and onnxruntime\'s), never more', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gd-large-'));
    const file = path.join(dir, 'large.onnx');
    try {
      writeLargeModel(file);
      // Measure in a fresh process so this test's own allocations do not count.
      const script = `
        const { loadModelFile } = require('./src/runtime/modelFile');
        const { createOrtRunner } = require('./src/runtime/ort');
        (async () => {
          const base = process.memoryUsage().rss;
          const m = loadModelFile(${JSON.stringify(file)});
          const r = await createOrtRunner(m.model, { executionProvider: 'cpu' });
          const out = await r.run({ x: { dtype: 'float32', dims: [1, ${N}], data: new Float32Array(${N}).fill(1) } });
          console.log(JSON.stringify({ grown: process.memoryUsage().rss - base, file: m.fileBytes, y0: out.y.data[0] }));
        })();`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', cwd: path.resolve(__dirname, '../../..') });
      assert.equal(r.status, 0, r.stderr);
      const { grown, file: bytes, y0 } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
      let expected = 0; // y[0] = sum over rows of w[r][0]
      for (let r = 0; r < N; r++) if ((r * N) % 4097 === 0) expected++;
      assert.equal(y0, expected, 'the model ran and computed x @ w');
      assert.ok(grown < 2.3 * bytes, `resident memory grew by ${(grown / 2 ** 20).toFixed(0)} MiB for a ${(bytes / 2 ** 20).toFixed(0)} MiB model`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
