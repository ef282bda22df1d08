import { alignRank, scalarLike, unbroadcast } from '../helpers';
import type { DerivativeRule } from '../rule';

/** Where(cond, a, b): the tangent picks da or db by the (constant) condition; cotangents are masked. */
export const where: DerivativeRule = {
  opType: 'Where',
  jvp: (ctx, [, da, db]) => {
    const first = da ?? db;
    if (!first) return [undefined];
    const [cond, a, b] = ctx.node.inputs;
    const out = ctx.shape(ctx.node.outputs[0]);
    const zero = scalarLike(ctx, ctx.node.outputs[0], 0);
    const pa = da ? alignRank(ctx.b, da, ctx.shape(a), out.length) : zero;
    const pb = db ? alignRank(ctx.b, db, ctx.shape(b), out.length) : zero;
    return [ctx.b.op('Where', [cond, pa, pb])];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined, undefined];
    const [cond, a, b] = ctx.node.inputs;
    const out = ctx.shape(ctx.node.outputs[0]);
    const zero = scalarLike(ctx, ctx.node.outputs[0], 0);
    return [
      undefined,
      unbroadcast(ctx.b, ctx.b.op('Where', [cond, gy, zero]), out, ctx.shape(a)),
      unbroadcast(ctx.b, ctx.b.op('Where', [cond, zero, gy]), out, ctx.shape(b)),
    ];
  },
};
