import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Attribute } from '../../../src/core/onnx/types';
import { gradCheck, type RuleCase } from './gradcheck';

const ints = (name: string, value: number[]): Attribute => ({ name, type: 'ints', value });
const int = (name: string, value: number): Attribute => ({ name, type: 'int', value });
const float = (name: string, value: number): Attribute => ({ name, type: 'float', value });

/** Every rule, with broadcasting and attribute variants. Tolerances: float64 1e-6, float32 2e-3 (FD truncation and rounding). */
export const CASES: RuleCase[] = [
  { title: 'Relu', op: 'Relu', inputs: [{ name: 'x', dims: [3, 5] }] },
  { title: 'LeakyRelu alpha 0.2', op: 'LeakyRelu', inputs: [{ name: 'x', dims: [3, 5] }], attrs: [float('alpha', 0.2)] },
  { title: 'Sigmoid', op: 'Sigmoid', inputs: [{ name: 'x', dims: [2, 6] }] },
  { title: 'Tanh', op: 'Tanh', inputs: [{ name: 'x', dims: [2, 6] }] },
  { title: 'Exp', op: 'Exp', inputs: [{ name: 'x', dims: [7] }] },
  { title: 'Log', op: 'Log', inputs: [{ name: 'x', dims: [7], positive: true }] },
  { title: 'Sqrt', op: 'Sqrt', inputs: [{ name: 'x', dims: [7], positive: true }] },
  { title: 'Reciprocal', op: 'Reciprocal', inputs: [{ name: 'x', dims: [7], positive: true }] },
  { title: 'Neg', op: 'Neg', inputs: [{ name: 'x', dims: [4] }] },
  { title: 'Abs', op: 'Abs', inputs: [{ name: 'x', dims: [6] }] },
  { title: 'Erf', op: 'Erf', inputs: [{ name: 'x', dims: [2, 5] }] },
  { title: 'Softplus', op: 'Softplus', inputs: [{ name: 'x', dims: [2, 5] }] },
  { title: 'Identity', op: 'Identity', inputs: [{ name: 'x', dims: [2, 3] }] },
  { title: 'Add with broadcasting of both inputs', op: 'Add', inputs: [{ name: 'a', dims: [3, 1, 4] }, { name: 'b', dims: [5, 1] }] },
  { title: 'Add of a constant bias', op: 'Add', inputs: [{ name: 'a', dims: [2, 4] }, { name: 'b', dims: [4], kind: 'const' }] },
  { title: 'Sub with broadcasting', op: 'Sub', inputs: [{ name: 'a', dims: [2, 3] }, { name: 'b', dims: [3] }] },
  { title: 'Mul with broadcasting', op: 'Mul', inputs: [{ name: 'a', dims: [2, 3, 4] }, { name: 'b', dims: [3, 1] }] },
  { title: 'Div with broadcasting', op: 'Div', inputs: [{ name: 'a', dims: [2, 3] }, { name: 'b', dims: [3], positive: true }] },
  { title: 'Pow with a constant exponent', op: 'Pow', inputs: [{ name: 'x', dims: [5], positive: true }, { name: 'p', dims: [], kind: 'const', values: [2.5] }] },
  { title: 'MatMul 2-D', op: 'MatMul', inputs: [{ name: 'a', dims: [3, 4] }, { name: 'b', dims: [4, 5] }] },
  { title: 'MatMul with batch broadcasting', op: 'MatMul', inputs: [{ name: 'a', dims: [2, 3, 4] }, { name: 'b', dims: [4, 5] }] },
  { title: 'MatMul with a batched right operand', op: 'MatMul', inputs: [{ name: 'a', dims: [3, 4] }, { name: 'b', dims: [2, 4, 5] }] },
  { title: 'Gemm', op: 'Gemm', inputs: [{ name: 'a', dims: [3, 4] }, { name: 'b', dims: [4, 5] }, { name: 'c', dims: [5] }] },
  {
    title: 'Gemm with transA, transB, alpha, beta and a broadcast C',
    op: 'Gemm',
    inputs: [{ name: 'a', dims: [4, 3] }, { name: 'b', dims: [5, 4] }, { name: 'c', dims: [3, 1] }],
    attrs: [int('transA', 1), int('transB', 1), float('alpha', 0.5), float('beta', 2)],
  },
  { title: 'Conv 2-D with bias', op: 'Conv', inputs: [{ name: 'x', dims: [1, 2, 5, 5] }, { name: 'w', dims: [3, 2, 3, 3] }, { name: 'b', dims: [3] }], attrs: [ints('pads', [1, 1, 1, 1])] },
  {
    title: 'Conv 2-D with stride 2, dilation 2 and asymmetric pads',
    op: 'Conv',
    inputs: [{ name: 'x', dims: [2, 2, 7, 6] }, { name: 'w', dims: [3, 2, 2, 3] }],
    attrs: [ints('strides', [2, 2]), ints('dilations', [2, 1]), ints('pads', [1, 0, 0, 1])],
  },
  { title: 'Conv 1-D', op: 'Conv', inputs: [{ name: 'x', dims: [1, 2, 9] }, { name: 'w', dims: [4, 2, 3] }], attrs: [ints('strides', [2])] },
  {
    title: 'grouped Conv (input only)',
    op: 'Conv',
    inputs: [{ name: 'x', dims: [1, 4, 5, 5] }, { name: 'w', dims: [4, 2, 3, 3], kind: 'const' }],
    attrs: [int('group', 2), ints('pads', [1, 1, 1, 1])],
  },
  {
    title: 'BatchNormalization (inference)',
    op: 'BatchNormalization',
    inputs: [{ name: 'x', dims: [2, 3, 2, 2] }, { name: 's', dims: [3] }, { name: 'b', dims: [3] }, { name: 'm', dims: [3], kind: 'const' }, { name: 'v', dims: [3], kind: 'const', positive: true }],
  },
  { title: 'LayerNormalization over the last axis', op: 'LayerNormalization', inputs: [{ name: 'x', dims: [2, 3, 4] }, { name: 's', dims: [4] }, { name: 'b', dims: [4] }] },
  { title: 'LayerNormalization over axes 1..', op: 'LayerNormalization', inputs: [{ name: 'x', dims: [2, 3, 4] }, { name: 's', dims: [3, 4] }, { name: 'b', dims: [3, 4] }], attrs: [int('axis', 1)] },
  { title: 'Softmax on axis 1', op: 'Softmax', inputs: [{ name: 'x', dims: [2, 3, 4] }], attrs: [int('axis', 1)] },
  { title: 'LogSoftmax', op: 'LogSoftmax', inputs: [{ name: 'x', dims: [2, 5] }] },
  { title: 'Reshape', op: 'Reshape', inputs: [{ name: 'x', dims: [2, 6] }, { name: 's', dims: [3], kind: 'int64', values: [3, -1, 2] }] },
  { title: 'Flatten', op: 'Flatten', inputs: [{ name: 'x', dims: [2, 3, 2] }], attrs: [int('axis', 1)] },
  { title: 'Squeeze', op: 'Squeeze', inputs: [{ name: 'x', dims: [2, 1, 3] }, { name: 'a', dims: [1], kind: 'int64', values: [1] }] },
  { title: 'Unsqueeze', op: 'Unsqueeze', inputs: [{ name: 'x', dims: [2, 3] }, { name: 'a', dims: [1], kind: 'int64', values: [0] }] },
  { title: 'Transpose', op: 'Transpose', inputs: [{ name: 'x', dims: [2, 3, 4] }], attrs: [ints('perm', [2, 0, 1])] },
  { title: 'Expand', op: 'Expand', inputs: [{ name: 'x', dims: [3, 1] }, { name: 's', dims: [3], kind: 'int64', values: [2, 3, 4] }] },
  { title: 'ReduceMean keeping dims', op: 'ReduceMean', inputs: [{ name: 'x', dims: [2, 3, 4] }], attrs: [ints('axes', [1, -1])] },
  { title: 'ReduceMean dropping dims', op: 'ReduceMean', inputs: [{ name: 'x', dims: [2, 3, 4] }], attrs: [ints('axes', [2]), int('keepdims', 0)] },
  { title: 'ReduceSum with an axes input', op: 'ReduceSum', inputs: [{ name: 'x', dims: [2, 3, 4] }, { name: 'a', dims: [1], kind: 'int64', values: [0] }], attrs: [int('keepdims', 0)] },
  { title: 'GlobalAveragePool', op: 'GlobalAveragePool', inputs: [{ name: 'x', dims: [1, 3, 4, 4] }] },
  { title: 'Concat of two inputs', op: 'Concat', inputs: [{ name: 'a', dims: [2, 3] }, { name: 'b', dims: [2, 2] }], attrs: [int('axis', 1)] },
  { title: 'Concat with a constant part', op: 'Concat', inputs: [{ name: 'a', dims: [2, 3] }, { name: 'b', dims: [1, 3], kind: 'const' }], attrs: [int('axis', 0)] },
  { title: 'Split into two outputs', op: 'Split', inputs: [{ name: 'x', dims: [2, 5] }, { name: 's', dims: [2], kind: 'int64', values: [2, 3] }], attrs: [int('axis', 1)], outputs: 2 },
  {
    title: 'Slice with unit steps',
    op: 'Slice',
    inputs: [{ name: 'x', dims: [4, 6] }, { name: 'st', dims: [2], kind: 'int64', values: [1, -4] }, { name: 'en', dims: [2], kind: 'int64', values: [3, 100] }, { name: 'ax', dims: [2], kind: 'int64', values: [0, 1] }],
  },
  { title: 'Gather rows of a table', op: 'Gather', inputs: [{ name: 't', dims: [5, 3] }, { name: 'i', dims: [2, 2], kind: 'int64', values: [0, 4, 4, 2] }] },
  {
    title: 'Gather on a middle axis with a scalar negative index',
    op: 'Gather',
    inputs: [{ name: 't', dims: [2, 5, 3] }, { name: 'i', dims: [], kind: 'int64', values: [-1] }],
    attrs: [int('axis', 1)],
  },
  { title: 'Gather on the last axis', op: 'Gather', inputs: [{ name: 't', dims: [2, 4] }, { name: 'i', dims: [3], kind: 'int64', values: [3, 0, 3] }], attrs: [int('axis', -1)] },
  { title: 'Where with broadcasting', op: 'Where', inputs: [{ name: 'c', dims: [2, 3], kind: 'bool', values: [1, 0, 1, 0, 0, 1] }, { name: 'a', dims: [2, 3] }, { name: 'b', dims: [3] }] },
  { title: 'Clip with min and max inputs', op: 'Clip', inputs: [{ name: 'x', dims: [2, 5] }, { name: 'lo', dims: [], kind: 'const', values: [-0.5] }, { name: 'hi', dims: [], kind: 'const', values: [0.7] }] },
  { title: 'HardSigmoid', op: 'HardSigmoid', inputs: [{ name: 'x', dims: [2, 6] }], attrs: [float('alpha', 0.4)] },
  { title: 'HardSwish', op: 'HardSwish', inputs: [{ name: 'x', dims: [2, 6], values: [-4, -2, -1, 0.5, 1, 2.5, 3.5, 5, -0.3, 0.1, 2.9, -2.9] }] },
  { title: 'Elu', op: 'Elu', inputs: [{ name: 'x', dims: [2, 5] }], attrs: [float('alpha', 0.7)] },
  {
    title: 'MaxPool 3x3 stride 2 with padding',
    op: 'MaxPool',
    inputs: [{ name: 'x', dims: [2, 3, 6, 6] }],
    attrs: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])],
  },
  { title: 'AveragePool 2x2 stride 2', op: 'AveragePool', inputs: [{ name: 'x', dims: [1, 3, 4, 6] }], attrs: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] },
  {
    title: 'AveragePool 3x3 stride 1 counting the padding',
    op: 'AveragePool',
    inputs: [{ name: 'x', dims: [1, 2, 5, 5] }],
    attrs: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), int('count_include_pad', 1)],
  },
  { title: 'Pad with constant zeros', op: 'Pad', inputs: [{ name: 'x', dims: [2, 3] }, { name: 'p', dims: [4], kind: 'int64', values: [0, 1, 1, 2] }] },
  { title: 'Cast float to double', op: 'Cast', inputs: [{ name: 'x', dims: [4] }], attrs: [int('to', 11)], dtype: 'float32' },
];

describe('derivative rules against central finite differences', () => {
  for (const c of CASES) {
    it(`${c.title}: J v matches FD and <u, J v> = <J^T u, v>`, async () => {
      const r = await gradCheck(c);
      const tol = r.dtype === 'float64' ? 1e-6 : 2e-3;
      assert.ok(r.jvpError < tol, `${r.dtype}: relative error of J v against FD ${r.jvpError.toExponential(2)} > ${tol}`);
      assert.ok(r.adjointError < (r.dtype === 'float64' ? 1e-10 : 1e-5), `${r.dtype}: adjoint mismatch ${r.adjointError.toExponential(2)}`);
    });
  }
});
