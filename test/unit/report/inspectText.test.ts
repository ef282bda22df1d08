import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InspectResult } from '../../../src/core/inspect';
import type { DimensionBinding } from '../../../src/core/inputs/signature';
import { bindingSource, dimensionLabel, formatInspect } from '../../../src/core/report/inspectText';

const REASON =
  "x:1=128, x:2=128: the model did not run at the default 1 (pre-pad (96) exceeds maximum allowed (0)), nor at 16, 64; 128 is the smallest size tried that runs (suggested by the graph: Pad '/stft/Pad' reflects 96 values, which needs more than 96); set them with --dim x:1=SIZE --dim x:2=SIZE (in VS Code, the gradientDoctor.dimensions setting)";

/** An inspect result for x [batch, ?, ?] and lengths [batch, n]: batch at its default, x's unnamed axes chosen by the ladder, n set by the user. */
function inspected(overrides: Partial<InspectResult> = {}): InspectResult {
  const bindings: DimensionBinding[] = [
    { input: 'x', axis: 0, symbol: 'batch', key: 'batch', value: 1, source: 'default' },
    { input: 'x', axis: 1, symbol: null, key: 'x:1', value: 128, source: 'ladder', reason: REASON },
    { input: 'x', axis: 2, symbol: null, key: 'x:2', value: 128, source: 'ladder', reason: REASON },
    { input: 'lengths', axis: 1, symbol: 'n', key: 'n', value: 3, source: 'override' },
  ];
  return {
    file: '/models/vad.onnx',
    sha256: '0'.repeat(64),
    fileBytes: 2048,
    summary: {
      irVersion: 8, opset: 17, opsetImports: [{ domain: '', version: 17 }], producer: 'test', graphName: 'main',
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', null, null] }, { name: 'lengths', dtype: 'int64', shape: ['batch', 'n'] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 4] }],
      nodeCount: 3, parameterCount: 32, initializerCount: 2, initializerBytes: 176, externalDataFiles: [],
      opHistogram: [{ opType: 'Pad', count: 1 }, { opType: 'Conv', count: 1 }, { opType: 'ReduceMean', count: 1 }],
    },
    ortVersion: '1.20.0',
    sampleInputs: [
      { input: 'x', dtype: 'float32', dims: [1, 128, 128], distribution: 'normal(0, 1)', note: REASON },
      { input: 'lengths', dtype: 'int64', dims: [1, 3], distribution: 'integers in [0, 128): a length' },
    ],
    dimensionBindings: bindings,
    outputs: [{ name: 'y', dtype: 'float32', dims: [1, 4], finite: true }],
    forwardMs: 1.5,
    ...overrides,
  };
}

describe('formatInspect (the inspect table)', () => {
  it('names an unnamed dimension by the input:axis key that sets it, and a named one by its symbol and input', () => {
    const text = formatInspect(inspected());
    assert.match(text, /^ {2}· x:1 = 128 \(/m);
    assert.match(text, /^ {2}· batch of x = 1 \(/m);
    assert.doesNotMatch(text, /unknown axis/);
  });

  it('gives a default binding the key to set it with', () => {
    assert.match(formatInspect(inspected()), /· batch of x = 1 \(default; set it with --dim batch=SIZE or the gradientDoctor\.dimensions setting\)/);
  });

  it('labels a ladder binding as the ladder\'s, not as a default, and prints its reason once, under the first dimension it sized', () => {
    const lines = formatInspect(inspected()).split('\n');
    const first = lines.indexOf('  · x:1 = 128 (chosen by the size ladder)');
    assert.ok(first >= 0, lines.join('\n'));
    assert.equal(lines[first + 1], `    ${REASON}`);
    assert.equal(lines[first + 2], '  · x:2 = 128 (chosen by the size ladder, as above)');
    assert.equal(lines.filter((l) => l.includes('pre-pad (96)')).length, 1, 'the reason (also the recipe\'s note) is printed once');
    assert.ok(!lines.some((l) => /x:[12] = .*default/.test(l)), 'no ladder binding reads as a default');
  });

  it('says a size the user set is theirs', () => {
    assert.match(formatInspect(inspected()), /· n of lengths = 3 \(set by you\)/);
  });

  it('prints a recipe\'s note that no binding carries under its input', () => {
    const r = inspected({ dimensionBindings: [], sampleInputs: [{ input: 'x', dtype: 'float32', dims: [1, 128, 128], distribution: 'normal(0, 1)', note: 'a note of its own' }] });
    const lines = formatInspect(r).split('\n');
    const at = lines.findIndex((l) => l.startsWith('  x  float32'));
    assert.equal(lines[at + 1], '    a note of its own');
  });

  it('keeps the bindings when the forward pass failed, beside the failure', () => {
    const defaults = inspected().dimensionBindings.map((b): DimensionBinding => (b.source === 'ladder' ? { ...b, value: 1, source: 'default', reason: undefined } : b));
    const text = formatInspect(inspected({ dimensionBindings: defaults, outputs: [], forwardMs: undefined, forwardError: 'the model does not run on synthesized inputs at any size tried for axis 1 of input \'x\'' }));
    assert.match(text, /· x:1 = 1 \(default; set it with --dim x:1=SIZE or the gradientDoctor\.dimensions setting\)/);
    assert.match(text, /Forward pass failed\n {2}the model does not run/);
  });
});

describe('dimension labels shared with the VS Code and HTML summary', () => {
  const unnamed: DimensionBinding = { input: 'x', axis: 1, symbol: null, key: 'x:1', value: 1, source: 'default' };

  it('names an unnamed dimension by its key', () => {
    assert.equal(dimensionLabel(unnamed), 'x:1');
    assert.equal(dimensionLabel({ ...unnamed, symbol: 'sequence', key: 'sequence' }), 'sequence of x');
  });

  it('says how to set a default size, with the flag and the setting, and where any other size comes from', () => {
    assert.equal(bindingSource(unnamed), 'default; set it with --dim x:1=SIZE or the gradientDoctor.dimensions setting');
    assert.equal(bindingSource({ ...unnamed, source: 'ladder', reason: REASON }), 'chosen by the size ladder');
    assert.equal(bindingSource({ ...unnamed, source: 'override' }), 'set by you');
  });
});
