import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DoctorError } from '../../../src/core/errors';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { modelProtoType } from '../../../src/core/onnx/proto';
import { tensorToFloat64 } from '../../../src/core/onnx/tensorData';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { validateGraph } from '../../../src/core/onnx/validate';
import { scanTopLevel } from '../../../src/core/onnx/wire';
import { loadModelFile } from '../../../src/runtime/modelFile';
import { analyzeFile } from '../../../src/runtime/engine';
import { model } from '../../helpers';

const mlp = () => decodeModel(readFileSync(model('mlp_sigmoid')));

/** Asserts that `run` throws a DoctorError of `kind` whose message matches `message`. */
function refuses(run: () => unknown, kind: DoctorError['kind'], message: RegExp): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof DoctorError, `a DoctorError, not ${String(e)}`);
    assert.equal(e.kind, kind);
    assert.match(e.message, message);
    return true;
  });
}

/** The mlp_sigmoid model with its first bias's dims set to `dims` (its 128 bytes kept). */
function withBiasDims(dims: number[]): Uint8Array {
  const m = mlp();
  const bias = m.graph.initializers.get('layers.0.bias');
  assert.ok(bias);
  bias.dims = dims;
  return encodeModel(m).bytes;
}

describe('tensor sizes: every tensor\'s bytes are checked against its dims before anything allocates', () => {
  it('refuses a bias whose dims claim 2^31 elements but that holds 128 bytes, naming it', () => {
    refuses(() => decodeModel(withBiasDims([2 ** 31]), 'm.onnx'), 'corrupt-model', /^m\.onnx: initializer 'layers\.0\.bias' has dims \[2147483648\] \(2147483648 float32 elements, 8589934592 bytes\) but holds 128 bytes$/);
  });

  it('refuses negative dims and dims whose product is not exact in float64', () => {
    refuses(() => decodeModel(withBiasDims([-1])), 'corrupt-model', /invalid dimension -1/);
    refuses(() => decodeModel(withBiasDims([2 ** 31, 2 ** 31])), 'corrupt-model', /more than 2\^53 elements/);
  });

  it('checks the legacy typed fields (float_data) too', () => {
    const type = modelProtoType();
    const proto = type.toObject(type.decode(encodeModel(mlp()).bytes)) as { graph: { initializer: Array<Record<string, unknown>> } };
    const bias = proto.graph.initializer.find((t) => t.name === 'layers.0.bias');
    assert.ok(bias);
    delete bias.raw_data;
    bias.float_data = [1, 2];
    bias.dims = [2 ** 31];
    refuses(() => decodeModel(type.encode(type.fromObject(proto)).finish()), 'corrupt-model', /initializer 'layers\.0\.bias' has dims \[2147483648\] .* but holds 8 bytes/);
  });

  it('tensorToFloat64 refuses bytes that do not match the dims before allocating (a DoctorError, not a RangeError)', () => {
    const t = { name: 'w', dataType: DataType.FLOAT, dims: [2 ** 40], raw: new Uint8Array(8) };
    refuses(() => tensorToFloat64(t), 'corrupt-model', /tensor 'w' has dims \[1099511627776\].* but holds 8 bytes/);
  });

  it('tensorToFloat64 reads a view at an odd offset of the file', () => {
    const bytes = new Uint8Array(9);
    new DataView(bytes.buffer).setFloat32(1, 1.5, true);
    new DataView(bytes.buffer).setFloat32(5, -2, true);
    assert.deepEqual([...tensorToFloat64({ name: 'w', dataType: DataType.FLOAT, dims: [2], raw: bytes.subarray(1) })], [1.5, -2]);
  });

  it('refuses a graph input whose fixed dims make one sample larger than 2 GiB', () => {
    const m = mlp();
    const x = m.graph.inputs[0];
    assert.ok(x.type?.kind === 'tensor');
    x.type.shape = [2 ** 31, 32];
    refuses(() => validateGraph(m.graph, 'm.onnx'), 'unsupported', /input 'x' has dims \[2147483648, 32\]: one float32 sample would take 256 GiB/);
  });

  it('analyze refuses the 2^31-element bias as inspect does, from the file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gd-limits-'));
    writeFileSync(path.join(dir, 'm.onnx'), withBiasDims([2 ** 31]));
    await assert.rejects(analyzeFile(path.join(dir, 'm.onnx'), { executionProvider: 'cpu', curvatureIterations: 0 }), (e: unknown) => {
      assert.ok(e instanceof DoctorError);
      assert.match(e.message, /initializer 'layers\.0\.bias' has dims \[2147483648\]/);
      return true;
    });
  });
});

describe('corrupt files: cut short, or complete but damaged inside, and said so', () => {
  const bytes = readFileSync(model('mlp_sigmoid'));

  it('a file cut in half "ends before the model does"', () => {
    assert.equal(scanTopLevel(bytes.subarray(0, bytes.length >> 1)).state, 'ends-early');
    refuses(() => decodeModel(bytes.subarray(0, bytes.length >> 1)), 'corrupt-model', /the file ends before the model does/);
  });

  it('a complete file with damaged bytes in the middle is "corrupt", not truncated', () => {
    const damaged = new Uint8Array(bytes);
    damaged.fill(0xff, 300, 340);
    assert.equal(scanTopLevel(damaged).state, 'complete');
    refuses(() => decodeModel(damaged), 'corrupt-model', /^the file is corrupt: it is complete, but the data inside it is damaged/);
  });

  it('an attribute declared a graph (or a tensor) that holds none is a corrupt model, not a null-property error', () => {
    for (const [type, what] of [[5, 'graph'], [4, 'tensor']] as const) {
      const m: Model = mlp();
      m.graph.nodes[0].attributes.push({ name: 'body', type: 'other', value: { name: 'body', type } });
      refuses(() => decodeModel(encodeModel(m).bytes), 'corrupt-model', new RegExp(`attribute 'body' of node '/layers.0/Gemm' is declared a ${what} but holds none`));
    }
  });
});

describe('files that are not regular files are refused before a byte is read', () => {
  const fifo = (p: string) => execFileSync('mkfifo', [p]);

  it('a model path that is a named pipe', { timeout: 20_000 }, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gd-limits-'));
    fifo(path.join(dir, 'm.onnx'));
    refuses(() => loadModelFile(path.join(dir, 'm.onnx')), 'bad-input', /m\.onnx: cannot read the model: it is a named pipe, not a regular file/);
  });

  it('a model path that is a folder', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gd-limits-'));
    refuses(() => loadModelFile(dir), 'bad-input', /cannot read the model: it is a folder/);
  });

  for (const kind of ['folder', 'named pipe'] as const) {
    it(`an external-data location that is a ${kind}, naming the location`, { timeout: 20_000 }, () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'gd-limits-'));
      copyFileSync(model('external/mlp_external'), path.join(dir, 'm.onnx'));
      const data = path.join(dir, 'mlp_external.weights');
      if (kind === 'folder') mkdirSync(data);
      else fifo(data);
      refuses(() => loadModelFile(path.join(dir, 'm.onnx')), 'external-data', new RegExp(`m\\.onnx: cannot read external data file 'mlp_external\\.weights': it is a ${kind}, not a regular file`));
      assert.deepEqual(readdirSync(dir).sort(), ['m.onnx', 'mlp_external.weights']);
    });
  }

  it('an external-data slice whose length does not match the dims of its tensor', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gd-limits-'));
    const m = decodeModel(readFileSync(model('external/mlp_external')));
    const bias = [...m.graph.initializers.values()].find((t) => t.name.endsWith('bias'));
    assert.ok(bias?.external);
    bias.dims = [2 ** 31];
    writeFileSync(path.join(dir, 'm.onnx'), encodeModel(m).bytes);
    copyFileSync(model('external/mlp_external').replace('.onnx', '.weights'), path.join(dir, 'mlp_external.weights'));
    refuses(() => loadModelFile(path.join(dir, 'm.onnx')), 'corrupt-model', /\(in 'mlp_external\.weights'\) has dims \[2147483648\] .* but holds 128 bytes/);
  });
});
