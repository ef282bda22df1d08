import { DataType } from '../../onnx/types';
import type { DerivativeRule } from '../rule';

/**
 * Gather(data, indices, axis): linear in data. Forward: the same gather of the tangent. Reverse:
 * gData = onehot(indices)^T gY along the gathered axis (repeated indices add up), computed with the
 * index axes moved next to K, one MatMul, and the axis moved back.
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
    const r = shape.length;
    const a0 = ctx.int('axis', 0);
    const a = a0 < 0 ? a0 + r : a0;
    const idx = ctx.shape(indices);
    const q = idx.length;
    const pre = shape.slice(0, a);
    const post = shape.slice(a + 1);
    const prod = (xs: number[]) => xs.reduce((x, y) => x * y, 1);
    const b = ctx.b;
    const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
    // gY: [K, pre (a axes), idx (q axes), post] -> [K, idx, pre, post] -> [K, I, P*Q]
    const moved = b.op('Transpose', [gy], { perm: [0, ...range(1 + a, q), ...range(1, a), ...range(1 + a + q, post.length)] });
    const flat = b.op('Reshape', [moved, b.int64([-1, prod(idx), prod(pre) * prod(post)])]);
    const hot = b.op('OneHot', [b.op('Reshape', [indices, b.int64([prod(idx)])]), b.int64([shape[a]]), b.tensor([2], [0, 1])], { axis: -1 }); // [I, A]
    const typed = ctx.dtype(data) === DataType.DOUBLE ? b.op('Cast', [hot], { to: DataType.DOUBLE }) : hot;
    const summed = b.op('MatMul', [b.op('Transpose', [typed], { perm: [1, 0] }), flat]); // [K, A, P*Q]
    const unflat = b.op('Reshape', [summed, b.int64([-1, shape[a], ...pre, ...post])]); // [K, A, pre, post]
    return [b.op('Transpose', [unflat], { perm: [0, ...range(2, a), 1, ...range(2 + a, post.length)] }), undefined];
  },
};
