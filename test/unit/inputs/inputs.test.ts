import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeModel } from '../../../src/core/onnx/decode';
import { inferIntRange } from '../../../src/core/inputs/intRange';
import { loadSamples } from '../../../src/core/inputs/load';
import { prepareSamples, DEFAULT_SAMPLE_OPTIONS } from '../../../src/core/inputs/prepare';
import { Rng } from '../../../src/core/inputs/rng';
import { resolveInputs } from '../../../src/core/inputs/signature';
import { floatToHalf } from '../../../src/core/inputs/synthesize';
import { malformed, model, sampleFile } from '../../helpers';

const load = (name: string) => decodeModel(readFileSync(model(name)));
const file = (name: string) => ({ name: sampleFile(name), bytes: readFileSync(sampleFile(name)) });

describe('Rng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = new Rng(7), b = new Rng(7), c = new Rng(8);
    const xs = Array.from({ length: 5 }, () => a.uniform());
    assert.deepEqual(Array.from({ length: 5 }, () => b.uniform()), xs);
    assert.notDeepEqual(Array.from({ length: 5 }, () => c.uniform()), xs);
  });

  it('draws normals with mean 0 and variance 1 within 4 standard errors (n = 20000)', () => {
    const r = new Rng(1);
    const n = 20000;
    const xs = Array.from({ length: n }, () => r.normal());
    const mean = xs.reduce((s, x) => s + x, 0) / n;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
    assert.ok(Math.abs(mean) < 4 / Math.sqrt(n), `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 4 * Math.sqrt(2 / n), `variance ${variance}`);
  });
});

describe('resolveInputs', () => {
  it('binds batch to 1 and sequence to 16 by default, and takes overrides by symbol', () => {
    const m = load('lstm');
    const d = resolveInputs(m);
    assert.deepEqual(d.inputs[0].dims, [16, 1]);
    assert.deepEqual(d.bindings.map((b) => [b.symbol, b.value, b.source]), [['sequence', 16, 'default'], ['batch', 1, 'default']]);
    assert.deepEqual(resolveInputs(m, { batch: 3, sequence: 5 }).inputs[0].dims, [5, 3]);
  });

  it('refuses a string input with a message naming it', () => {
    const m = decodeModel(readFileSync(malformed('string_input.onnx')));
    assert.throws(() => resolveInputs(m, {}, 'x.onnx'), /input 'text' has element type string, which cannot be synthesized/);
  });
});

describe('inferIntRange', () => {
  it('bounds LSTM token ids by the embedding table read through Gather', () => {
    const r = inferIntRange(load('lstm'), 'tokens');
    assert.equal(r.low, 0);
    assert.equal(r.high, 50);
    assert.match(r.reason, /embed\.weight/);
  });

  it('bounds transformer token ids by its 64-row embedding', () => {
    assert.equal(inferIntRange(load('transformer'), 'tokens').high, 64);
  });
});

describe('prepareSamples (synthesized)', () => {
  it('draws the same samples for the same seed and valid token ids', () => {
    const m = load('transformer');
    const opts = { ...DEFAULT_SAMPLE_OPTIONS, count: 2, seed: 3, dimensions: { batch: 2 } };
    const a = prepareSamples(m, opts);
    const b = prepareSamples(m, opts);
    assert.equal(a.samples.length, 2);
    assert.deepEqual(a.samples, b.samples);
    const tokens = a.samples[0].tokens;
    assert.deepEqual(tokens.dims, [16, 2]);
    assert.ok([...(tokens.data as BigInt64Array)].every((t) => t >= 0n && t < 64n));
    assert.deepEqual([...(a.samples[0].padding_mask.data as Uint8Array)], new Array(32).fill(0), 'padding mask masks nothing');
    assert.notDeepEqual(prepareSamples(m, { ...opts, seed: 4 }).samples[0].tokens.data, tokens.data);
  });

  it('draws uniform [0, 1) floats on request', () => {
    const s = prepareSamples(load('resnet_small'), { ...DEFAULT_SAMPLE_OPTIONS, distribution: 'uniform' }).samples[0].image;
    assert.deepEqual(s.dims, [1, 3, 16, 16]);
    assert.ok([...(s.data as Float32Array)].every((v) => v >= 0 && v < 1));
  });

  it('converts floats to IEEE half precision', () => {
    assert.equal(floatToHalf(1), 0x3c00);
    assert.equal(floatToHalf(-2), 0xc000);
    assert.equal(floatToHalf(65504), 0x7bff);
    assert.equal(floatToHalf(1e6), 0x7c00);
  });
});

describe('loadSamples', () => {
  const mlp = resolveInputs(load('mlp_sigmoid')).inputs;
  const transformer = resolveInputs(load('transformer')).inputs;

  it('reads an .npy written by NumPy into the only input', () => {
    const [s] = loadSamples([file('mlp_x.npy')], mlp);
    assert.deepEqual(s.x.dims, [2, 32]);
    assert.equal(s.x.dtype, 'float32');
  });

  it('reads an .npz by input name, taking symbolic dims from the arrays', () => {
    const [s] = loadSamples([file('transformer.npz')], transformer);
    assert.deepEqual(s.tokens.dims, [16, 3]);
    assert.deepEqual(s.padding_mask.dims, [3, 16]);
    assert.equal(s.padding_mask.dtype, 'bool');
  });

  it('reads a JSON list as several samples, nested arrays or {dims, data}', () => {
    const samples = loadSamples([file('mlp_x.json')], mlp);
    assert.equal(samples.length, 2);
    assert.deepEqual(samples[1].x.dims, [1, 32]);
    assert.equal((samples[1].x.data as Float32Array)[0], 0.5);
  });

  it('says which dtype was expected', () => {
    assert.throws(() => loadSamples([file('mlp_x_float64.npy')], mlp), /input 'x' expects float32, but the file holds float64/);
  });

  it('says which axis has the wrong size', () => {
    assert.throws(() => loadSamples([file('mlp_x_bad_shape.npy')], mlp), /needs size 32 on axis 1 \[batch, 32\], but the array has shape \[2, 31\]/);
  });

  it('names the missing input of an .npz', () => {
    assert.throws(() => loadSamples([file('transformer_missing.npz')], transformer), /has no array for input 'padding_mask' \(it has: tokens\)/);
  });

  it('refuses other file types', () => {
    assert.throws(() => loadSamples([{ name: 'x.csv', bytes: new Uint8Array() }], mlp), /must be .npy, .npz or .json/);
  });
});
