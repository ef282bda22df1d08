import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeUntilInterrupted } from '../../../src/cli/main';
import type { Progress } from '../../../src/core/progress';
import { model } from '../../helpers';

describe('the CLI analysis and Ctrl-C', () => {
  it('shows the phase once the first answer is in, and on SIGINT returns the figures so far', async () => {
    const messages: string[] = [];
    const progress = {
      update(p: Progress) {
        messages.push(p.message);
        // the user presses Ctrl-C once the bar says the first answer is in
        if (p.message.startsWith('first answer in ') && messages.filter((m) => m.startsWith('first answer')).length === 1) process.emit('SIGINT');
      },
    };
    const report = await analyzeUntilInterrupted(model('resnet_small'), { executionProvider: 'cpu', curvatureIterations: 4 }, progress);
    assert.ok(messages.some((m) => /^first answer in \d+\.\d s: (healthy|at-risk|pathological); refining · Probing layer 1\//.test(m)), messages.join('\n'));
    assert.ok(report.run.phase === 'first-answer' || report.run.phase === 'refining', `a partial report (${report.run.phase})`);
    assert.ok(report.layers.every((l) => l.jacobian.sigmaMax !== null), 'every layer has its first look at least');
    assert.equal(report.curvature.hessianMaxEigenvalue, null);
    assert.equal(process.listenerCount('SIGINT'), 0, 'the handler is removed');
  });

  it('before the first answer, SIGINT stops with the cancelled error', async () => {
    const progress = { update: (p: Progress) => (p.message.startsWith('Sample 1/1: forward') ? process.emit('SIGINT') : undefined) };
    await assert.rejects(analyzeUntilInterrupted(model('resnet_small'), { executionProvider: 'cpu' }, progress), /cancelled/);
  });
});
