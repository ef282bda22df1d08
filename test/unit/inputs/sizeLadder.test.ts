import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseDim } from '../../../src/cli/options';
import { DEFAULT_SAMPLE_OPTIONS, prepareSamples } from '../../../src/core/inputs/prepare';
import { resolveInputs } from '../../../src/core/inputs/signature';
import { suggestSizes } from '../../../src/core/inputs/sizeHints';
import { encodeModel } from '../../../src/core/onnx/encode';
import { float32Tensor } from '../../../src/core/onnx/tensorData';
import { DataType, type Dim, type Graph, type Model, type Node, type Tensor } from '../../../src/core/onnx/types';
import { analyzeFile, inspectFile } from '../../../src/runtime/engine';

// Test models are built here, each pinning one behaviour of the size ladder or the branch value.
const node = (opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = [], name = `/${outputs[0]}`): Node => ({ name, opType, domain: '', inputs, outputs, attributes, metadata: {} });
const ints = (name: string, values: number[], dims = [values.length]): Tensor => ({ name, dataType: DataType.INT64, dims, raw: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) });
const graphOf = (name: string, nodes: Node[], outputs: string[], initializers: Tensor[] = []): Graph => ({
  name, nodes, inputs: [], outputs: outputs.map((o) => ({ name: o })), initializers: new Map(initializers.map((t) => [t.name, t])), valueInfo: [], metadata: {}, passthrough: {},
});
const modelOf = (graph: Graph): Model => ({ irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 'sizeLadder test', producerVersion: '', domain: '', modelVersion: 0, docString: '', metadata: {}, passthrough: {}, graph });
const floatInput = (name: string, shape: Dim[]) => ({ name, type: { kind: 'tensor' as const, elemType: DataType.FLOAT, shape } });

/** The engine's sample options with these dimension sizes. */
const withDims = (dimensions: Record<string, number>) => ({ count: 1, seed: 0, distribution: 'normal' as const, dimensions });

function save(model: Model, name: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'gd-ladder-')), `${name}.onnx`);
  writeFileSync(file, encodeModel(model).bytes);
  return file;
}

/**
 * A voice-activity front end in miniature: x [batch, sequence] is reflect-padded by `pad` on both
 * sides of time (which onnxruntime refuses unless sequence > pad), then a strided Conv and a mean over
 * time give y [batch, 4]. `sequence` is the time axis's declared dim (null: unnamed).
 */
function reflectPadModel(pad: number, sequence: Dim = 'sequence'): Model {
  const w = float32Tensor('W', [4, 1, 8], Array.from({ length: 32 }, (_, i) => Math.sin(i + 1) * 0.3));
  const graph: Graph = {
    ...graphOf('main', [
      node('Unsqueeze', ['x', 'one'], ['u']),
      node('Pad', ['u', 'pads'], ['p'], [{ name: 'mode', type: 'string', value: 'reflect' }], '/stft/Pad'),
      node('Conv', ['p', 'W'], ['c'], [{ name: 'strides', type: 'ints', value: [8] }], '/conv/Conv'),
      node('ReduceMean', ['c'], ['y'], [{ name: 'axes', type: 'ints', value: [2] }, { name: 'keepdims', type: 'int', value: 0 }]),
    ], ['y'], [ints('one', [1]), ints('pads', [0, 0, pad, 0, 0, pad]), w]),
    inputs: [floatInput('x', [sequence === null ? null : 'batch', sequence])],
    outputs: [{ name: 'y', type: { kind: 'tensor', elemType: DataType.FLOAT, shape: ['batch', 4] } }],
  };
  return modelOf(graph);
}

/** x [1, 8] and a scalar int64 sample rate sr: Equal(sr, 16000) chooses x W (then) or the first 4 columns of x (else). */
function sampleRateModel(): Model {
  const w = float32Tensor('W', [8, 4], Array.from({ length: 32 }, (_, i) => Math.cos(i) * 0.4));
  const thenBranch = graphOf('then', [node('MatMul', ['x', 'W'], ['t_out'], [], '/branch16k/MatMul')], ['t_out'], [w]);
  const elseBranch = graphOf('else', [node('Slice', ['x', 'starts', 'ends', 'axes'], ['e_out'])], ['e_out']);
  const graph: Graph = {
    ...graphOf('main', [
      node('Equal', ['sr', 'rate16k'], ['is16k'], [], '/is16k'),
      node('If', ['is16k'], ['y'], [{ name: 'then_branch', type: 'graph', value: thenBranch }, { name: 'else_branch', type: 'graph', value: elseBranch }], '/If'),
    ], ['y'], [ints('rate16k', [16000], []), ints('starts', [0]), ints('ends', [4]), ints('axes', [1])]),
    inputs: [floatInput('x', [1, 8]), { name: 'sr', type: { kind: 'tensor', elemType: DataType.INT64, shape: [] } }],
    outputs: [{ name: 'y', type: { kind: 'tensor', elemType: DataType.FLOAT, shape: [1, 4] } }],
  };
  return modelOf(graph);
}

describe('the size ladder', () => {
  it('suggests more than a reflect Pad\'s width and at least a kernel, rounded up to a power of two', () => {
    assert.deepEqual(suggestSizes(reflectPadModel(96)).map((h) => [h.size, h.from]), [[8, 'kernel'], [128, 'pad']]);
    assert.match(suggestSizes(reflectPadModel(96))[1].reason, /Pad '\/stft\/Pad' reflects 96 values, which needs more than 96/);
  });

  it('analyses a model whose reflect Pad needs a longer sequence at the smallest size tried that runs, and says which and why', async () => {
    const r = await analyzeFile(save(reflectPadModel(96), 'vad'), { executionProvider: 'cpu', curvatureIterations: 0 });
    const x = r.run.sampleInputs.find((s) => s.input === 'x');
    assert.deepEqual(x?.dims, [1, 128]);
    assert.match(x?.note ?? '', /^sequence=128: the model did not run at the default 16 \(.*pre-pad \(96\).*\), nor at 64; 128 is the smallest size tried that runs \(suggested by the graph: Pad '\/stft\/Pad' reflects 96 values/);
    assert.match(x?.note ?? '', /--dim sequence=SIZE/);
    assert.equal(r.layers.length, 1, 'the Conv is analysed');
  });

  it('inspects at the same size, and records the binding as the ladder\'s', async () => {
    const r = await inspectFile(save(reflectPadModel(96), 'vad'), { executionProvider: 'cpu' });
    assert.equal(r.forwardError, undefined);
    assert.deepEqual(r.outputs.map((o) => o.dims), [[1, 4]]);
    assert.deepEqual(r.dimensionBindings.map((b) => [b.key, b.value, b.source]), [['batch', 1, 'default'], ['sequence', 128, 'ladder']]);
  });

  it('keeps a size the user set, and never resizes it', async () => {
    const r = await inspectFile(save(reflectPadModel(96), 'vad'), { executionProvider: 'cpu', samples: withDims({ sequence: 40 }) });
    assert.match(r.forwardError ?? '', /pre-pad \(96\)/);
    assert.deepEqual(r.sampleInputs[0].dims, [1, 40]);
  });

  it('fails at every size with a message naming the dimension, the sizes tried and the option that sets it', async () => {
    const file = save(reflectPadModel(5000), 'long');
    await assert.rejects(analyzeFile(file, { executionProvider: 'cpu', curvatureIterations: 0 }), (e: Error) => {
      assert.equal(e.name, 'DoctorError');
      assert.match(e.message, /does not run on synthesized inputs at any size tried for sequence \(16 by default, then 64, 256, 1024\)/);
      assert.match(e.message, /At 16, onnxruntime said: .*pre-pad \(5000\)/);
      assert.match(e.message, /--dim sequence=SIZE \(in VS Code, the gradientDoctor\.dimensions setting\)/);
      return true;
    });
    const inspected = await inspectFile(file, { executionProvider: 'cpu' });
    assert.match(inspected.forwardError ?? '', /any size tried for sequence/);
    assert.ok(inspected.summary.nodeCount > 0, 'the summary stands');
  });

  it('skips sizes whose inputs would not fit, before making them, and says so', async () => {
    const five: Graph = {
      ...graphOf('main', [node('Pad', ['x', 'pads'], ['y'], [{ name: 'mode', type: 'string', value: 'reflect' }])], ['y'], [ints('pads', [0, 0, 0, 0, 5000, 0, 0, 0, 0, 5000])]),
      inputs: [floatInput('x', ['h', 'w', 'd', 'e', 'f'])],
    };
    const r = await inspectFile(save(modelOf(five), 'five'), { executionProvider: 'cpu' });
    assert.match(r.forwardError ?? '', /any size tried for h, w, d, e, f \(1 by default, then 16\) \(64, 256, 1024 not tried: the inputs would hold more than 16777216 elements\)/);
    assert.match(r.forwardError ?? '', /--dim h=SIZE --dim w=SIZE --dim d=SIZE --dim e=SIZE --dim f=SIZE/);
  });
});

describe('unnamed dimensions', () => {
  it('takes --dim INPUT:AXIS=SIZE for a dimension with no name', async () => {
    const r = await inspectFile(save(reflectPadModel(96, null), 'unnamed'), { executionProvider: 'cpu', samples: withDims({ 'x:1': 512 }) });
    assert.equal(r.forwardError, undefined);
    assert.deepEqual(r.sampleInputs[0].dims, [1, 512]);
    assert.deepEqual(r.dimensionBindings.map((b) => [b.key, b.value, b.source]), [['x:0', 1, 'default'], ['x:1', 512, 'override']]);
  });

  it('takes a negative axis, and refuses an axis whose size is fixed or out of range', () => {
    const m = reflectPadModel(96, null);
    assert.deepEqual(resolveInputs(m, { 'x:-1': 200 }).inputs[0].dims, [1, 200]);
    const fixed = modelOf({ ...reflectPadModel(96).graph, inputs: [floatInput('x', [1, 'sequence', 3])] });
    assert.throws(() => resolveInputs(fixed, { 'x:2': 5 }), /--dim x:2=5: axis 2 of input 'x' has the fixed size 3/);
    assert.throws(() => resolveInputs(m, { 'x:2': 5 }), /--dim x:2=5: input 'x' has 2 axes \(0 to 1\)/);
    assert.throws(() => resolveInputs(m, { sequence: 0 }), /the size of dimension 'sequence' must be a positive integer, not 0/);
    assert.throws(() => resolveInputs(m, { 'x:1': 2.5 }), /must be a positive integer, not 2\.5/);
  });

  it('climbs the ladder for a dimension with no name, and names it by input and axis', async () => {
    const r = await inspectFile(save(reflectPadModel(96, null), 'unnamed'), { executionProvider: 'cpu' });
    assert.deepEqual(r.sampleInputs[0].dims, [1, 128]);
    assert.match(r.sampleInputs[0].note ?? '', /^x:1=128: the model did not run at the default 1 .*--dim x:1=SIZE/);
    const failed = await inspectFile(save(reflectPadModel(5000, null), 'unnamed'), { executionProvider: 'cpu' });
    assert.match(failed.forwardError ?? '', /any size tried for axis 1 of input 'x' .*--dim x:1=SIZE/);
  });
});

describe('a scalar integer input that selects a branch', () => {
  it('takes the constant Equal compares it with, and says so', () => {
    const p = prepareSamples(sampleRateModel(), DEFAULT_SAMPLE_OPTIONS);
    assert.deepEqual([...(p.samples[0].sr.data as BigInt64Array)], [16000n]);
    assert.equal(p.recipes.find((r) => r.input === 'sr')?.distribution, "16000: the constant Equal '/is16k' compares it with, which decides If '/If'");
  });

  it('runs the branch that constant selects', async () => {
    const r = await analyzeFile(save(sampleRateModel(), 'vad_sr'), { executionProvider: 'cpu', curvatureIterations: 0 });
    assert.deepEqual(r.run.controlFlow?.map((c) => c.how), ['then branch']);
    assert.deepEqual(r.layers.map((l) => l.name), ['/branch16k/MatMul']);
  });
});

describe('--dim', () => {
  it('parses NAME=SIZE and INPUT:AXIS=SIZE, repeated', () => {
    assert.deepEqual(parseDim('x:1=512', parseDim('sequence=128', undefined)), { sequence: 128, 'x:1': 512 });
    assert.deepEqual(parseDim('input_1:0:1=64', undefined), { 'input_1:0:1': 64 });
  });

  it('refuses a size below 1 or a missing name, naming both forms', () => {
    assert.throws(() => parseDim('x:1=0', undefined), /is not NAME=SIZE or INPUT:AXIS=SIZE/);
    assert.throws(() => parseDim('=4', undefined), /e\.g\. sequence=128, x:1=512/);
  });
});
