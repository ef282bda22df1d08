import { DataType } from '../../onnx/types';
import { UnsupportedDerivative, type DerivativeRule } from '../rule';

/**
 * Gather(data, indices, axis): linear in data. Forward: the same gather of the tangent. Reverse for
 * a 2-D table gathered on axis 0 (embeddings): gTable = onehot(indices)^T gY.
 */
export const gather: DerivativeRule = {
  opType: 'Gather',
  jvp: (ctx, [ddata]) => {
    if (!ddata) return [undefined];
    const rank = ctx.shape(ctx.node.inputs[0]).length;
    const a = ctx.int('axis', 0);
    return [ctx.b.op('Gather', [ddata, ctx.node.inputs[1]], { axis: (a < 0 ? a + rank : a) + 1 })];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined];
    const [data, indices] = ctx.node.inputs;
    const shape = ctx.shape(data);
    if (ctx.int('axis', 0) !== 0 || shape.length !== 2) throw new UnsupportedDerivative(ctx.node, 'the reverse rule covers 2-D tables gathered on axis 0');
    const b = ctx.b;
    const n = ctx.shape(indices).reduce((p, d) => p * d, 1);
    const flatIdx = b.op('Reshape', [indices, b.int64([n])]);
    const floatHot = b.op('OneHot', [flatIdx, b.int64([shape[0]]), b.tensor([2], [0, 1])], { axis: -1 }); // [n, rows]
    const oneHot = ctx.dtype(data) === DataType.DOUBLE ? b.op('Cast', [floatHot], { to: DataType.DOUBLE }) : floatHot;
    const gFlat = b.op('Reshape', [gy, b.int64([-1, n, shape[1]])]); // [K, n, cols]
    return [b.op('MatMul', [b.op('Transpose', [oneHot], { perm: [1, 0] }), gFlat]), undefined];
  },
};
