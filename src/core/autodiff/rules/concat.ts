import { zerosLike } from '../helpers';
import { negAxis, type DerivativeRule } from '../rule';

/** Concat: tangents concatenate along the same axis (zeros for constant inputs); cotangents split. */
export const concat: DerivativeRule = {
  opType: 'Concat',
  jvp: (ctx, d) => {
    const first = d.find((t) => t !== undefined);
    if (!first) return [undefined];
    const inputs = ctx.node.inputs;
    const parts = inputs.map((x, i) => d[i] ?? zerosLike(ctx, first, ctx.shape(x), ctx.dtype(ctx.node.outputs[0])));
    return [ctx.b.op('Concat', parts, { axis: negAxis(ctx.int('axis', 0), ctx.shape(inputs[0]).length) })];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return ctx.node.inputs.map(() => undefined);
    const rank = ctx.shape(ctx.node.inputs[0]).length;
    const a = ctx.int('axis', 0);
    const axis = a < 0 ? a + rank : a;
    const sizes = ctx.node.inputs.map((x) => ctx.shape(x)[axis]);
    return ctx.b.opMulti('Split', [gy, ctx.b.int64(sizes)], sizes.length, { axis: axis - rank });
  },
};

/** Split: tangents split the same way; cotangents concatenate (zeros for unused outputs). */
export const split: DerivativeRule = {
  opType: 'Split',
  jvp: (ctx, [dx]) => {
    if (!dx) return ctx.node.outputs.map(() => undefined);
    const rank = ctx.shape(ctx.node.inputs[0]).length;
    const a = ctx.int('axis', 0);
    const axis = a < 0 ? a + rank : a;
    const sizes = ctx.node.outputs.map((y) => ctx.shape(y)[axis]);
    return ctx.b.opMulti('Split', [dx, ctx.b.int64(sizes)], sizes.length, { axis: axis - rank });
  },
  vjp: (ctx, g) => {
    const first = g.find((t) => t !== undefined);
    if (!first) return [undefined];
    const parts = ctx.node.outputs.map((y, i) => g[i] ?? zerosLike(ctx, first, ctx.shape(y), ctx.dtype(y)));
    return [ctx.b.op('Concat', parts, { axis: negAxis(ctx.int('axis', 0), ctx.shape(ctx.node.inputs[0]).length) })];
  },
};
