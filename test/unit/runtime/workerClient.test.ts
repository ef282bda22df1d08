import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { DoctorError } from '../../../src/core/errors';
import { WorkerClient } from '../../../src/runtime/workerClient';
import { malformed, model, ROOT } from '../../helpers';

const workerPath = path.join(ROOT, 'dist', 'worker.js');

describe('WorkerClient (real worker process, dist/worker.js)', () => {
  assert.ok(existsSync(workerPath), 'run `npm run build` first: dist/worker.js is missing');
  const logs: string[] = [];
  const client = new WorkerClient({ workerPath, log: (l) => logs.push(l) });
  after(() => client.dispose());

  it('starts the worker lazily and inspects a model there, reporting progress', async () => {
    assert.equal(client.pid, undefined, 'no worker before the first request');
    const steps: string[] = [];
    const r = await client.run('inspect', model('resnet_small'), {}, { onProgress: (p) => steps.push(p.message) });
    assert.equal(r.summary.opHistogram.find((h) => h.opType === 'Conv')?.count, 9);
    assert.equal(r.executionProvider?.used, 'cpu');
    assert.ok(steps.includes('Running the model on a sample'), steps.join(', '));
    assert.ok(client.pid && client.pid !== process.pid, 'ran in another process');
  });

  it('runs the analysis in the worker and streams per-layer progress', async () => {
    const steps: string[] = [];
    const r = await client.run('analyze', model('mlp_sigmoid'), { curvatureIterations: 2 }, { onProgress: (p) => steps.push(p.message) });
    assert.equal(r.layers.length, 12);
    assert.ok(steps.includes('Probing layer 12/12: /layers.11/Gemm'), steps.join(' | '));
  });

  it('reports a malformed model as a DoctorError naming the file, and keeps working', async () => {
    await assert.rejects(client.run('inspect', malformed('cycle.onnx'), {}), (e: unknown) => {
      assert.ok(e instanceof DoctorError);
      assert.equal(e.kind, 'invalid-graph');
      assert.equal(e.file, malformed('cycle.onnx'));
      return true;
    });
    const r = await client.run('inspect', model('mlp_sigmoid'), {});
    assert.equal(r.summary.nodeCount, 24);
  });

  it('turns a worker crash into an error and starts a fresh worker for the next request', async () => {
    const first = client.pid;
    const pending = client.run('inspect', model('transformer'), {});
    client.crashForTest();
    await assert.rejects(pending, /analysis worker was killed by SIGSEGV/);
    const r = await client.run('inspect', model('mlp_sigmoid'), {});
    assert.equal(r.summary.nodeCount, 24);
    assert.notEqual(client.pid, first);
  });

  it('rejects a cancelled request at once, and the worker stops the work itself at its next checkpoint', async () => {
    // the mechanism, not wall time: the request settles in the same turn as the abort, and the
    // worker acknowledges the cancel (a generous grace period, so a busy machine cannot turn it into a kill)
    const patient = new WorkerClient({ workerPath, cancelGraceMs: 120_000 });
    try {
      await patient.run('inspect', model('mlp_sigmoid'), {});
      const pid = patient.pid;
      const abort = new AbortController();
      let settled = false;
      const pending = patient.run('inspect', model('transformer'), {}, { signal: abort.signal }).finally(() => (settled = true));
      abort.abort();
      await Promise.resolve();
      await Promise.resolve();
      assert.ok(settled, 'settled by the abort itself, not by the worker');
      await assert.rejects(pending, (e: unknown) => e instanceof DoctorError && e.kind === 'cancelled');
      while (patient.unacknowledgedCancels > 0) await new Promise((r) => setTimeout(r, 20));
      assert.equal(patient.pid, pid, 'the worker stopped the work itself; it was not killed');
      const r = await patient.run('inspect', model('mlp_sigmoid'), {});
      assert.equal(r.summary.nodeCount, 24);
    } finally {
      patient.dispose();
    }
  });

  it('kills a worker that does not stop after a cancel, and re-runs the requests that shared it on a fresh one', async () => {
    const lines: string[] = [];
    const impatient = new WorkerClient({ workerPath, cancelGraceMs: 1, log: (l) => lines.push(l) });
    try {
      const abort = new AbortController();
      let started!: () => void;
      const progressed = new Promise<void>((r) => (started = r));
      const cancelled = impatient.run('analyze', model('resnet_small'), { curvatureIterations: 0 }, { signal: abort.signal, onProgress: () => started() });
      await progressed;
      const first = impatient.pid;
      const next = impatient.run('inspect', model('mlp_sigmoid'), {});
      abort.abort();
      await assert.rejects(cancelled, (e: unknown) => e instanceof DoctorError && e.kind === 'cancelled');
      const r = await next;
      assert.equal(r.summary.nodeCount, 24, 'the innocent request completed');
      assert.notEqual(impatient.pid, first, 'on a fresh worker');
      assert.ok(lines.some((l) => /re-running request \d+ \(inspect /.test(l)), lines.join('\n'));
    } finally {
      impatient.dispose();
    }
  });

  it('treats a worker that sends nothing for the stall timeout as hung and kills it', async () => {
    const hung = new WorkerClient({ workerPath, stallTimeoutMs: 30 });
    try {
      await assert.rejects(hung.run('inspect', model('resnet_small'), {}), /stopped responding \(no progress for 0 s\)/);
      assert.equal(hung.pid, undefined, 'the hung worker is gone');
    } finally {
      hung.dispose();
    }
  });
});
