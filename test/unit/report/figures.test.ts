import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { confirms, formatFigure, jacobianFigure, rankText } from '../../../src/core/report/figures';
import type { LayerJacobian } from '../../../src/core/report/types';

const lanczos: LayerJacobian = {
  sigmaMax: 2.5, sigmaMin: 0.04, rmsGain: 0.9, conditionNumber: 62.5, method: 'lanczos',
  kinds: { sigmaMax: 'estimate', sigmaMin: 'upper-bound', rmsGain: 'estimate', conditionNumber: 'lower-bound' },
  errors: { sigmaMax: 1e-4, sigmaMin: 0.01, rmsGain: 0.02 },
};

describe('figures', () => {
  it('prints bounds as bounds and estimates with their error bar', () => {
    assert.equal(formatFigure(jacobianFigure(lanczos, 'sigmaMin')), '≤ 0.0400');
    assert.equal(formatFigure(jacobianFigure(lanczos, 'conditionNumber')), '≥ 62.5');
    assert.equal(formatFigure(jacobianFigure(lanczos, 'rmsGain'), true), '0.900 ± 0.0200');
    assert.equal(formatFigure(null), '—');
  });

  it('never prints 0 for a measurement within its error bar of 0', () => {
    assert.equal(formatFigure({ value: 0, kind: 'exact', error: 3.2e-9 }), '≤ 3.20e-9');
  });

  it('reads a singular Jacobian\'s null condition number as infinite, with its rank and the units that are off', () => {
    const singular: LayerJacobian = { ...lanczos, method: 'exact', conditionNumber: null, kinds: undefined, rank: { value: 20, of: 32, zeroRows: 12 } };
    assert.equal(formatFigure(jacobianFigure(singular, 'conditionNumber')), '∞');
    assert.match(rankText(singular) ?? '', /rank 20 of 32 \(12 directions lost; 12 output units are off/);
    assert.equal(jacobianFigure({ ...singular, rank: undefined }, 'conditionNumber'), null);
  });

  it('lets a bound confirm a finding in its own direction only', () => {
    assert.ok(confirms({ value: 2e4, kind: 'lower-bound' }, 'above', 1e4));
    assert.ok(!confirms({ value: 2e4, kind: 'upper-bound' }, 'above', 1e4));
    assert.ok(confirms({ value: 1e-3, kind: 'upper-bound' }, 'below', 1e-2));
    assert.ok(!confirms({ value: 1e-3, kind: 'lower-bound' }, 'below', 1e-2));
    assert.ok(confirms({ value: 1e-3, kind: 'estimate' }, 'below', 1e-2));
  });
});
