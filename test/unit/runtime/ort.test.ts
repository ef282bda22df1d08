import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DoctorError } from '../../../src/core/errors';
import { decodeModel } from '../../../src/core/onnx/decode';
import { createOrtRunner, cudaUnavailableReason } from '../../../src/runtime/ort';
import { malformed, model } from '../../helpers';

const mlp = () => decodeModel(readFileSync(model('mlp_sigmoid')));
const feeds = { x: { dtype: 'float32' as const, dims: [3, 32], data: new Float32Array(96).fill(0.25) } };

describe('createOrtRunner', () => {
  it('runs on the CPU when asked for cpu, and says so', async () => {
    const r = await createOrtRunner(mlp(), { executionProvider: 'cpu' });
    assert.deepEqual(r.executionProvider, { requested: 'cpu', used: 'cpu' });
    const out = await r.run(feeds);
    assert.deepEqual(out.y.dims, [3, 32]);
    await r.dispose();
  });

  it('with auto, uses CUDA where it can and otherwise falls back to CPU with the reason', async () => {
    const r = await createOrtRunner(mlp(), { executionProvider: 'auto' });
    const reason = cudaUnavailableReason();
    if (reason) assert.deepEqual(r.executionProvider, { requested: 'auto', used: 'cpu', fallbackReason: reason });
    else assert.ok(r.executionProvider.used === 'cuda' || r.executionProvider.fallbackReason);
  });

  it('with cuda, fails clearly when CUDA is not available', async (t) => {
    const reason = cudaUnavailableReason();
    if (!reason) return t.skip('CUDA is available on this machine');
    await assert.rejects(createOrtRunner(mlp(), { executionProvider: 'cuda' }), (e: unknown) => {
      assert.ok(e instanceof DoctorError);
      assert.match(e.message, /CUDA execution provider is not available/);
      return true;
    });
  });

  it('exposes intermediate tensors as extra outputs, each once', async () => {
    const r = await createOrtRunner(mlp(), { executionProvider: 'cpu', extraOutputs: ['/Sigmoid_output_0', '/layers.0/Gemm_output_0', '/Sigmoid_output_0', 'y'] });
    assert.deepEqual([...r.outputNames].sort(), ['/Sigmoid_output_0', '/layers.0/Gemm_output_0', 'y']);
    const out = await r.run(feeds, ['/Sigmoid_output_0', '/layers.0/Gemm_output_0']);
    const pre = out['/layers.0/Gemm_output_0'].data as Float32Array;
    const post = out['/Sigmoid_output_0'].data as Float32Array;
    for (let i = 0; i < pre.length; i++) assert.ok(Math.abs(post[i] - 1 / (1 + Math.exp(-pre[i]))) < 1e-6);
  });

  it('turns onnxruntime load failures into a DoctorError that says what is wrong', async () => {
    const m = decodeModel(readFileSync(malformed('wrong_dtype.onnx')));
    await assert.rejects(createOrtRunner(m, { executionProvider: 'cpu' }), /onnxruntime cannot load the model: .*MatMul.*bound to different types/);
  });
});

describe('opsets', () => {
  it('runs a model at the newest opset onnxruntime-node 1.30 accepts (21) as well as the fixtures at 7 and 17', async () => {
    const { DataType } = await import('../../../src/core/onnx/types');
    const m = decodeModel(readFileSync(model('mlp_opset7')));
    const tiny = {
      ...m,
      irVersion: 10,
      opsetImports: [{ domain: '', version: 21 }],
      graph: {
        ...m.graph,
        initializers: new Map(),
        nodes: [{ name: 'g', opType: 'Gelu', domain: '', inputs: ['x'], outputs: ['y'], attributes: [], metadata: {} }],
        inputs: [{ name: 'x', type: { kind: 'tensor' as const, elemType: DataType.FLOAT, shape: [2] } }],
        outputs: [{ name: 'y', type: { kind: 'tensor' as const, elemType: DataType.FLOAT, shape: [2] } }],
      },
    };
    const r = await createOrtRunner(tiny, { executionProvider: 'cpu' });
    const out = await r.run({ x: { dtype: 'float32', dims: [2], data: Float32Array.from([0, 1]) } });
    assert.ok(Math.abs((out.y.data as Float32Array)[1] - 0.8413) < 1e-3);
  });
});
