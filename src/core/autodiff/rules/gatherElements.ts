import { batchedElementIndices as batched, zerosLike } from '../helpers';
import type { DerivativeRule } from '../rule';

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
