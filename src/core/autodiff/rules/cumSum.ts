import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

/** The summed axis as a negative axis (valid for the batched tensors too), from the axis input. */
function axis(ctx: RuleContext): number {
  const rank = ctx.shape(ctx.node.inputs[0]).length;
  const a = ctx.constant(ctx.node.inputs[1]);
  if (!a || a.length !== 1) throw new UnsupportedDerivative(ctx.node, 'the axis must be a known scalar');
  return a[0] < 0 ? a[0] : a[0] - rank;
}

/**
 * CumSum: linear. Forward: the same cumulative sum of the tangent. Reverse: the adjoint of a
 * cumulative sum is the cumulative sum in the other direction (exclusive stays exclusive).
 */
export const cumSum: DerivativeRule = {
  opType: 'CumSum',
  jvp: (ctx, [dx]) => {
    if (!dx) return [undefined];
    const attrs = { exclusive: ctx.int('exclusive', 0), reverse: ctx.int('reverse', 0) };
    return [ctx.b.op('CumSum', [dx, ctx.b.int64([axis(ctx)])], attrs)];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined];
    const attrs = { exclusive: ctx.int('exclusive', 0), reverse: 1 - ctx.int('reverse', 0) };
    return [ctx.b.op('CumSum', [gy, ctx.b.int64([axis(ctx)])], attrs), undefined];
  },
};
