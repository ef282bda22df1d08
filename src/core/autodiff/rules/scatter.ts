import { zerosLike } from '../helpers';
import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

/** The indices broadcast with a leading K axis taken from `like`, and the axis shifted past it. */
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
 * ScatterElements with reduction 'none' or 'add': linear in data and updates. Forward: the same
 * scatter of the tangents. Reverse: updates get the gathered cotangent; data gets the cotangent
 * (with 'none', zero where it was overwritten).
 */
export const scatterElements: DerivativeRule = {
  opType: 'ScatterElements',
  jvp: (ctx, [ddata, , dupdates]) => {
    const reduction = ctx.str('reduction', 'none');
    if (reduction !== 'none' && reduction !== 'add') throw new UnsupportedDerivative(ctx.node, `reduction '${reduction}'`);
    const first = ddata ?? dupdates;
    if (!first) return [undefined];
    const [dataName, , updatesName] = ctx.node.inputs;
    const dtype = ctx.dtype(ctx.node.outputs[0]);
    const data = ddata ?? zerosLike(ctx, first, ctx.shape(dataName), dtype);
    const updates = dupdates ?? zerosLike(ctx, first, ctx.shape(updatesName), dtype);
    const { indices, axis } = batched(ctx, first);
    return [ctx.b.op('ScatterElements', [data, indices, updates], { axis, reduction })];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined, undefined];
    const reduction = ctx.str('reduction', 'none');
    if (reduction !== 'none' && reduction !== 'add') throw new UnsupportedDerivative(ctx.node, `reduction '${reduction}'`);
    const b = ctx.b;
    const { indices, axis } = batched(ctx, gy);
    const gUpdates = b.op('GatherElements', [gy, indices], { axis });
    const zeros = zerosLike(ctx, gy, ctx.shape(ctx.node.inputs[2]), ctx.dtype(ctx.node.outputs[0]));
    const gData = reduction === 'add' ? gy : b.op('ScatterElements', [gy, indices, zeros], { axis });
    return [ctx.needs(0) ? gData : undefined, undefined, ctx.needs(2) ? gUpdates : undefined];
  },
};
