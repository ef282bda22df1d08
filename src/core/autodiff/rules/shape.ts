import type { DerivativeRule, RuleContext } from '../rule';

/** Reshapes a batched derivative to [K, ...shape of `name`]. */
function reshapeTo(ctx: RuleContext, t: string, name: string): string {
  return ctx.b.op('Reshape', [t, ctx.b.int64([-1, ...ctx.shape(name)])]);
}

/** Ops that only rearrange elements into a new shape (same order): J is the identity up to shape. */
function reshapeLike(opType: string): DerivativeRule {
  return {
    opType,
    jvp: (ctx, [dx]) => [dx ? reshapeTo(ctx, dx, ctx.node.outputs[0]) : undefined],
    vjp: (ctx, [gy]) => [gy ? reshapeTo(ctx, gy, ctx.node.inputs[0]) : undefined],
  };
}

/** Reshape: a view with a new shape. */
export const reshape = reshapeLike('Reshape');
/** Flatten: a reshape to 2-D. */
export const flatten = reshapeLike('Flatten');
/** Squeeze: a reshape that drops unit axes. */
export const squeeze = reshapeLike('Squeeze');
/** Unsqueeze: a reshape that adds unit axes. */
export const unsqueeze = reshapeLike('Unsqueeze');

/** Transpose: permutes axes; the batched permutation keeps K first, and the reverse applies the inverse. */
export const transpose: DerivativeRule = {
  opType: 'Transpose',
  jvp: (ctx, [dx]) => {
    if (!dx) return [undefined];
    const rank = ctx.shape(ctx.node.inputs[0]).length;
    const perm = ctx.ints('perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    return [ctx.b.op('Transpose', [dx], { perm: [0, ...perm.map((p) => p + 1)] })];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined];
    const rank = ctx.shape(ctx.node.inputs[0]).length;
    const perm = ctx.ints('perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inverse = new Array<number>(rank);
    perm.forEach((p, i) => (inverse[p] = i));
    return [ctx.b.op('Transpose', [gy], { perm: [0, ...inverse.map((p) => p + 1)] })];
  },
};

/** Expand: broadcasts x to a shape; the reverse sums over the broadcast axes. */
export const expand: DerivativeRule = {
  opType: 'Expand',
  jvp: (ctx, [dx]) => {
    if (!dx) return [undefined];
    const out = ctx.shape(ctx.node.outputs[0]);
    const x = ctx.shape(ctx.node.inputs[0]);
    const aligned = ctx.b.op('Reshape', [dx, ctx.b.int64([-1, ...new Array(out.length - x.length).fill(1), ...x])]);
    return [ctx.b.op('Expand', [aligned, ctx.b.int64([1, ...out])])];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined];
    const out = ctx.shape(ctx.node.outputs[0]);
    const x = ctx.shape(ctx.node.inputs[0]);
    const lead = out.length - x.length;
    const axes = out.map((_, i) => i).filter((i) => i < lead || (x[i - lead] === 1 && out[i] !== 1)).map((i) => i + 1);
    const summed = axes.length ? ctx.b.op('ReduceSum', [gy, ctx.b.int64(axes)], { keepdims: 1 }) : gy;
    return [ctx.b.op('Reshape', [summed, ctx.b.int64([-1, ...x])])];
  },
};
