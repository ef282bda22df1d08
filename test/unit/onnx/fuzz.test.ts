import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isDoctorError } from '../../../src/core/errors';
import { encodeModel } from '../../../src/core/onnx/encode';
import { float32Tensor } from '../../../src/core/onnx/tensorData';
import { DataType, type Dim, type Model, type Node, type Tensor } from '../../../src/core/onnx/types';
import { analyzeFile, inspectFile } from '../../../src/runtime/engine';
import { fuzzCorpus, listTree, rawTextIn, writeCase, type FuzzCase } from '../../fixtures/make_fuzz';

/** The size that fits in the unit tests; `npm run fuzz` runs the full corpus through the CLI. */
const COUNT = 60;

const digest = (cases: FuzzCase[]) => {
  const h = createHash('sha256');
  for (const c of cases) for (const e of c.entries) h.update(c.name).update(e.path).update(e.kind === 'file' ? e.bytes : e.kind);
  return h.digest('hex');
};

/** Runs `work`; returns 'ok', or the DoctorError's message. Anything else thrown fails the test. */
async function outcome(work: () => Promise<unknown>, what: string): Promise<string> {
  try {
    await work();
    return 'ok';
  } catch (e) {
    assert.ok(isDoctorError(e), `${what} threw something other than a DoctorError (a bug): ${e instanceof Error ? e.stack : String(e)}`);
    const raw = rawTextIn(e.message);
    assert.equal(raw, undefined, `${what}: the message holds raw JavaScript or C++ text '${raw}': ${e.message}`);
    return e.message;
  }
}

describe(`fuzz corpus (test/fixtures/make_fuzz.ts, fixed seed): ${COUNT} mutated models through inspect and analyze`, () => {
  const corpus = fuzzCorpus(COUNT);

  it('is the same corpus every time (fixed seed), and mixes every kind of mutation', () => {
    assert.equal(digest(fuzzCorpus(COUNT)), digest(corpus));
    const kinds = new Set(corpus.map((c) => c.mutation.split('/')[0]));
    for (const k of ['flip', 'truncate', 'tensor-dims', 'external', 'attribute']) assert.ok(kinds.has(k), `the corpus has ${k} mutations`);
  });

  for (const c of corpus) {
    it(`${c.name}: finishes with a result or a DoctorError in plain words, and writes nothing`, { timeout: 120_000 }, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'gd-fuzz-'));
      writeCase(c, dir);
      const before = listTree(dir);
      const file = path.join(dir, c.model);
      // a run past the limit ends this test file's process with a message: a hang fails loudly
      const options = { executionProvider: 'cpu' as const, runTimeoutSeconds: 60 };
      const inspected = await outcome(() => inspectFile(file, options), 'inspect');
      const analyzed = await outcome(() => analyzeFile(file, { ...options, curvatureIterations: 2 }), 'analyze');
      if (c.mutation === 'external/valid') assert.deepEqual([inspected, analyzed], ['ok', 'ok'], 'a valid model with external data is analysed');
      if (inspected !== 'ok') assert.ok(inspected.startsWith(`${file}: `) || inspected.includes(dir), `the message names the model: ${inspected}`);
      assert.deepEqual(listTree(dir), before, 'nothing written beside the model');
    });
  }
});

/**
 * x [batch, axis1] through `nodes` to y. Two mutants in miniature: a node broken whatever the size
 * (the fuzz corpus's swapped and dropped operators), and an input axis declared with a number that
 * is not a size (its input-dims mutation).
 */
function mutantOf(axis1: Dim, nodes: Node[], initializers: Tensor[]): string {
  const model: Model = {
    irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 'fuzz test', producerVersion: '', domain: '', modelVersion: 0, docString: '', metadata: {}, passthrough: {},
    graph: {
      name: 'mutant', nodes, initializers: new Map(initializers.map((t) => [t.name, t])), valueInfo: [], metadata: {}, passthrough: {},
      inputs: [{ name: 'x', type: { kind: 'tensor', elemType: DataType.FLOAT, shape: ['batch', axis1] } }],
      outputs: [{ name: 'y', type: { kind: 'tensor', elemType: DataType.FLOAT } }],
    },
  };
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'gd-fuzz-ladder-')), 'model.onnx');
  writeFileSync(file, encodeModel(model).bytes);
  return file;
}

const node = (opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = []): Node => ({ name: `/${outputs[0]}`, opType, domain: '', inputs, outputs, attributes, metadata: {} });
const int64s = (name: string, values: number[]): Tensor => ({ name, dataType: DataType.INT64, dims: [values.length], raw: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) });

describe('symbolic sizes on models that do not run as declared (fuzz corpus mutants)', () => {
  it('says onnxruntime\'s failure first, and that the size is probably not the cause, when every size fails the same way', async () => {
    // a sum over the sequence reshaped to 2 values: batch 1 holds one, whatever the sequence
    const file = mutantOf('sequence', [node('ReduceSum', ['x', 'axes'], ['s'], [{ name: 'keepdims', type: 'int', value: 1 }]), node('Reshape', ['s', 'two'], ['y'])], [int64s('axes', [1]), int64s('two', [2])]);
    const r = await inspectFile(file, { executionProvider: 'cpu' });
    // the same failure at three sizes ends the tries: 1024 is never run
    assert.match(r.forwardError ?? '', /^onnxruntime failed to run the model: .*requested shape:\{2\}.*\. It failed the same way at every size tried for sequence \(16 by default, then 64, 256\), so the size is probably not the cause\. If the model needs a particular size, set it with --dim sequence=SIZE/);
    assert.equal(rawTextIn(r.forwardError ?? ''), undefined);
    await assert.rejects(analyzeFile(file, { executionProvider: 'cpu', curvatureIterations: 0 }), (e: Error) => {
      assert.ok(isDoctorError(e));
      assert.ok(e.message.startsWith(`${file}: onnxruntime failed to run the model: `), e.message);
      assert.doesNotMatch(e.message, /does not run on synthesized inputs at any size/);
      return true;
    });
  });

  it('names an axis declared as a negative number, and the key that sets it, when no size runs', async () => {
    const w = float32Tensor('W', [8, 4], Array.from({ length: 32 }, (_, i) => Math.sin(i)));
    const file = mutantOf(-3, [node('Gemm', ['x', 'W'], ['y'])], [w]);
    const r = await inspectFile(file, { executionProvider: 'cpu' });
    assert.match(r.forwardError ?? '', /does not run on synthesized inputs at any size tried for axis 1 of input 'x' \(1 by default, then 16, 64, 256, 1024\)\. The model declares axis 1 of input 'x' as -3, which is treated as unknown\./);
    assert.match(r.forwardError ?? '', /--dim x:1=SIZE/);
    assert.deepEqual(r.dimensionBindings.map((b) => [b.key, b.value, b.source]), [['batch', 1, 'default'], ['x:1', 1, 'default']]);
    const ran = await inspectFile(file, { executionProvider: 'cpu', samples: { count: 1, seed: 0, distribution: 'normal', dimensions: { 'x:1': 8 } } });
    assert.equal(ran.forwardError, undefined, 'the size it needs, set by its key, runs');
  });

  it('refuses a key that names a fixed axis, saying that in VS Code the setting may be meant for another model', async () => {
    const w = float32Tensor('W', [8, 4], Array.from({ length: 32 }, (_, i) => Math.sin(i)));
    const file = mutantOf(8, [node('Gemm', ['x', 'W'], ['y'])], [w]);
    const r = await inspectFile(file, { executionProvider: 'cpu', samples: { count: 1, seed: 0, distribution: 'normal', dimensions: { 'x:1': 512 } } });
    assert.match(r.forwardError ?? '', /--dim x:1=512: axis 1 of input 'x' has the fixed size 8; only symbolic or unknown sizes can be set \(in VS Code: the key 'x:1' of the gradientDoctor\.dimensions setting, which applies to every model in the workspace; it may be meant for another model/);
    assert.ok(r.summary.nodeCount > 0, 'the summary stands');
  });
});
