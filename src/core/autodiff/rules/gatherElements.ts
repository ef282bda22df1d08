import { zerosLike } from '../helpers';
import type { DerivativeRule, RuleContext } from '../rule';

/** GatherElements' indices broadcast with a leading K axis taken from `like`, and the axis shifted past it. */
function batched(ctx: RuleContext, like: string): { indices: string; axis: number } {
  const b = ctx.b;
  const idx = ctx.node.inputs[1];
  const shape = ctx.shape(idx);
  const k = b.op('Slice', [b.op('Shape', [like]), b.int64([0]), b.int64([1])]);
  const indices = b.op('Expand', [b.op('Reshape', [idx, b.int64([1, ...shape])]), b.op('Concat', [k, b.int64(shape)], { axis: 0 })]);
  const rank = ctx.shape(ctx.node.inputs[0]).length;
  const a = ctx.int('axis', 0);
  return { indices, axis: (a < 0 ? a + rank : a) + 1 };
}

/**
 * GatherElements(data, indices, axis): linear in data. Forward: the same gather of the tangent.
 * Reverse: the cotangent scatter-added back to the picked positions (repeated indices add up).
 */
export const gatherElements: DerivativeRule = {
  opType: 'GatherElements',
  jvp: (ctx, [dx]) => {
    if (!dx) return [undefined];
    const { indices, axis } = batched(ctx, dx);
    return [ctx.b.op('GatherElements', [dx, indices], { axis })];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined];
    const data = ctx.node.inputs[0];
    const { indices, axis } = batched(ctx, gy);
    const zeros = zerosLike(ctx, gy, ctx.shape(data), ctx.dtype(data));
    return [ctx.b.op('ScatterElements', [zeros, indices, gy], { axis, reduction: 'add' }), undefined];
  },
};
