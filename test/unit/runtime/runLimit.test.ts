import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { DoctorError } from '../../../src/core/errors';
import { encodeModel } from '../../../src/core/onnx/encode';
import { WorkerClient } from '../../../src/runtime/workerClient';
import { endlessLoop } from '../../fixtures/make_fuzz';
import { model, ROOT } from '../../helpers';

/** Runs `body` (TypeScript, with withTimeLimit in scope) in a fresh Node process. */
function child(body: string) {
  const script = `const { withTimeLimit } = require(${JSON.stringify(path.join(ROOT, 'src', 'runtime', 'runLimit.ts'))});\n(async () => { ${body} })();`;
  return spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 60_000 });
}

describe('the run time limit on onnxruntime calls (src/runtime/runLimit.ts)', () => {
  it('ends a process whose guarded synchronous call outlives the limit, with the message, by SIGALRM', () => {
    const r = child("await withTimeLimit(200, 'stopped: the limit', () => new Promise(() => { for (;;) {} }));");
    assert.equal(r.signal, 'SIGALRM');
    assert.equal(r.stderr, 'stopped: the limit\n');
  });

  it('leaves alone calls that return within the limit, one after another or interleaved, and idle time after them', () => {
    const r = child(`
      const tick = () => new Promise((resolve) => setTimeout(resolve, 20));
      for (let i = 0; i < 20; i++) await withTimeLimit(10000, 'too slow', tick);
      await Promise.all([withTimeLimit(10000, 'too slow', tick), withTimeLimit(10000, 'too slow', tick)]);
      await withTimeLimit(100, 'too slow', () => Promise.resolve());
      await new Promise((resolve) => setTimeout(resolve, 500));
      process.stdout.write('done');`);
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'done');
  });

  describe('in the extension\'s worker process', () => {
    const client = new WorkerClient({ workerPath: path.join(ROOT, 'dist', 'worker.js') });
    after(() => client.dispose());

    it("reports the limit as a 'time-limit' DoctorError naming the model, and the next request gets a fresh worker", { timeout: 60_000 }, async () => {
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'gd-limit-')), 'loop.onnx');
      writeFileSync(file, encodeModel(endlessLoop()).bytes);
      await assert.rejects(client.run('inspect', file, { runTimeoutSeconds: 1 }), (e: unknown) => {
        assert.ok(e instanceof DoctorError);
        assert.equal(e.kind, 'time-limit');
        assert.equal(e.file, file);
        assert.match(e.message, /onnxruntime ran past the run time limit \(the gradientDoctor\.runTimeoutSeconds setting\)/);
        return true;
      });
      const r = await client.run('inspect', model('mlp_opset7'), {});
      assert.equal(r.summary.nodeCount > 0, true);
    });
  });
});
