import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DoctorError } from '../../../src/core/errors';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { createOrtRunner } from '../../../src/runtime/ort';
import { FIXTURE_MODELS, expectClose, malformed, model } from '../../helpers';

/** Structural equality of two models, comparing initializer bytes by content. */
function assertSameModel(a: Model, b: Model): void {
  const strip = (m: Model) => ({ ...m, graph: { ...m.graph, initializers: [...m.graph.initializers.keys()] } });
  assert.deepEqual(strip(b), strip(a));
  for (const [name, t] of a.graph.initializers) {
    const u = b.graph.initializers.get(name);
    assert.ok(u, `initializer ${name} survives`);
    assert.deepEqual(u.dims, t.dims);
    assert.deepEqual(Buffer.from(u.raw ?? []), Buffer.from(t.raw ?? []), `bytes of ${name}`);
  }
}

describe('decodeModel / encodeModel', () => {
  for (const name of FIXTURE_MODELS) {
    it(`round-trips the ${name} fixture to an equal graph that onnxruntime runs to the same outputs`, async () => {
      const bytes = readFileSync(model(name));
      const m = decodeModel(bytes, name);
      const again = decodeModel(encodeModel(m).bytes, name);
      assertSameModel(m, again);
      const input = m.graph.inputs[0];
      assert.ok(input.type?.kind === 'tensor');
      if (input.type.elemType !== DataType.FLOAT) return;
      const dims = (input.type.shape ?? []).map((d) => (typeof d === 'number' ? d : 2));
      const data = Float32Array.from({ length: dims.reduce((x, y) => x * y, 1) }, (_, i) => Math.sin(i));
      const feeds = { [input.name]: { dtype: 'float32' as const, dims, data } };
      const r1 = await createOrtRunner(m, { executionProvider: 'cpu' });
      const r2 = await createOrtRunner(again, { executionProvider: 'cpu' });
      const out = m.graph.outputs[0].name;
      expectClose((await r2.run(feeds))[out].data as Float32Array, (await r1.run(feeds))[out].data as Float32Array, 0, 0, out);
    });
  }

  it('keeps node metadata_props (IR 10) and model metadata through encode and decode', () => {
    const m = decodeModel(readFileSync(model('mlp_sigmoid')));
    m.irVersion = 10;
    m.graph.nodes[0].metadata = { 'pkg.torch.onnx.stack_trace': 'model.py:12' };
    m.metadata = { author: 'fixture' };
    const again = decodeModel(encodeModel(m).bytes);
    assert.deepEqual(again.graph.nodes[0].metadata, { 'pkg.torch.onnx.stack_trace': 'model.py:12' });
    assert.deepEqual(again.metadata, { author: 'fixture' });
    assert.equal(again.irVersion, 10);
  });

  it('hands large weights over by reference with externalizeAbove, without copying them', () => {
    const m = decodeModel(readFileSync(model('mlp_sigmoid')));
    const { bytes, external } = encodeModel(m, { externalizeAbove: 1024 });
    assert.equal(external.length, 12, 'one blob per 32x32 weight');
    const weight = m.graph.initializers.get('layers.0.weight')?.raw;
    assert.ok(weight && external[0].data.buffer === weight.buffer, 'the blob is a view of the decoded weights');
    assert.ok(bytes.byteLength < 12 * 1024, 'the model bytes no longer hold the weights');
  });

  const cases: Array<[string, DoctorError['kind'], RegExp]> = [
    ['empty.onnx', 'empty-file', /empty/],
    ['text.onnx', 'not-onnx', /text file/],
    ['image.onnx', 'not-onnx', /PNG image/],
    ['truncated.onnx', 'corrupt-model', /truncated/],
  ];
  for (const [file, kind, message] of cases) {
    it(`refuses ${file} with a '${kind}' error that names the file`, () => {
      const path = malformed(file);
      assert.throws(() => decodeModel(readFileSync(path), path), (e: unknown) => {
        assert.ok(e instanceof DoctorError);
        assert.equal(e.kind, kind);
        assert.match(e.message, message);
        assert.ok(e.message.startsWith(path));
        return true;
      });
    });
  }

  it('names a zip archive as a probable PyTorch checkpoint', () => {
    assert.throws(() => decodeModel(Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0])), /PyTorch .pt checkpoint/);
  });
});
