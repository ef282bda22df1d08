import { batchedElementIndices as batched, zerosLike } from '../helpers';
import { UnsupportedDerivative, type DerivativeRule } from '../rule';

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
