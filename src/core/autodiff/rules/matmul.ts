import { add, alignRank, swapLast, unbroadcast } from '../helpers';
import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

function check(ctx: RuleContext): { a: string; b: string; ra: number; rb: number } {
  const [a, b] = ctx.node.inputs;
  const ra = ctx.shape(a).length;
  const rb = ctx.shape(b).length;
  if (ra < 2 || rb < 2) throw new UnsupportedDerivative(ctx.node, 'matrix-vector products (1-D operands) are not covered');
  return { a, b, ra, rb };
}

/**
 * MatMul: d(A B) = dA B + A dB. Reverse: gA = gY B^T, gB = A^T gY, each summed over broadcast
 * batch axes. The probe axis K leads and broadcasts through MatMul's batch dimensions.
 */
export const matmul: DerivativeRule = {
  opType: 'MatMul',
  jvp: (ctx, [da, db]) => {
    const { a, b } = check(ctx);
    // Tangents of operands with fewer batch axes than the output get leading 1s, so K never meets a batch axis.
    const rank = ctx.shape(ctx.node.outputs[0]).length;
    const dA = da ? alignRank(ctx.b, da, ctx.shape(a), rank) : undefined;
    const dB = db ? alignRank(ctx.b, db, ctx.shape(b), rank) : undefined;
    return [add(ctx.b, dA ? ctx.b.op('MatMul', [dA, b]) : undefined, dB ? ctx.b.op('MatMul', [a, dB]) : undefined)];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined];
    const { a, b, ra, rb } = check(ctx);
    const out = ctx.shape(ctx.node.outputs[0]);
    const gaFull = ctx.b.op('MatMul', [gy, ctx.b.op('Transpose', [b], { perm: swapLast(rb) })]);
    const gbFull = ctx.b.op('MatMul', [ctx.b.op('Transpose', [a], { perm: swapLast(ra) }), gy]);
    const outA = [...out.slice(0, -2), ...ctx.shape(a).slice(-2)];
    const outB = [...out.slice(0, -2), ...ctx.shape(b).slice(-2)];
    return [ctx.needs(0) ? unbroadcast(ctx.b, gaFull, outA, ctx.shape(a)) : undefined, ctx.needs(1) ? unbroadcast(ctx.b, gbFull, outB, ctx.shape(b)) : undefined];
  },
};
