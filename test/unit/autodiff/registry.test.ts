import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { supportedOps } from '../../../src/core/autodiff/registry';
import { ROOT } from '../../helpers';
import { CASES } from './ruleCases';

describe('the derivative rule registry', () => {
  it('equals the list of supported operators documented in the README', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const block = /<!-- supported-ops:start -->([\s\S]*?)<!-- supported-ops:end -->/.exec(readme)?.[1] ?? '';
    const documented = [...block.matchAll(/`([A-Za-z][A-Za-z0-9]*)`/g)].map((m) => m[1]).sort();
    assert.deepEqual(documented, supportedOps());
  });

  it('has a finite-difference check for every rule', () => {
    const checked = new Set(CASES.map((c) => c.op));
    assert.deepEqual(supportedOps().filter((op) => !checked.has(op)), []);
  });
});
