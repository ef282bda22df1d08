import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

/** The repeats per axis, from the repeats input. */
function repeats(ctx: RuleContext): number[] {
  const r = ctx.constant(ctx.node.inputs[1]);
  if (!r) throw new UnsupportedDerivative(ctx.node, 'the repeats must be known');
  return [...r];
}

/**
 * Tile: y[i] = x[i mod shape]. Forward: the same tiling of the tangent (K not repeated). Reverse:
 * each axis of the cotangent seen as [repeats, size] (the copies outermost), summed over the copies.
 */
export const tile: DerivativeRule = {
  opType: 'Tile',
  jvp: (ctx, [dx]) => [dx ? ctx.b.op('Tile', [dx, ctx.b.int64([1, ...repeats(ctx)])]) : undefined],
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined];
    const b = ctx.b;
    const x = ctx.shape(ctx.node.inputs[0]);
    const r = repeats(ctx);
    const split = b.op('Reshape', [gy, b.int64([-1, ...x.flatMap((d, i) => [r[i], d])])]); // [K, r0, x0, r1, x1, ...]
    const summed = b.op('ReduceSum', [split, b.int64(x.map((_, i) => 1 + 2 * i))], { keepdims: 0 });
    return [summed, undefined];
  },
};
