import { DataType } from '../../onnx/types';
import type { DerivativeRule } from '../rule';

const FLOATS = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

/** Cast between float types passes derivatives through (cast to the new type); casts to or from integers carry none. */
export const cast: DerivativeRule = {
  opType: 'Cast',
  jvp: (ctx, [dx]) => {
    const to = ctx.int('to', DataType.FLOAT);
    if (!dx || !FLOATS.has(to) || !FLOATS.has(ctx.dtype(ctx.node.inputs[0]))) return [undefined];
    return [ctx.b.op('Cast', [dx], { to })];
  },
  vjp: (ctx, [gy]) => {
    const to = ctx.dtype(ctx.node.inputs[0]);
    if (!gy || !FLOATS.has(to) || !FLOATS.has(ctx.dtype(ctx.node.outputs[0]))) return [undefined];
    return [ctx.b.op('Cast', [gy], { to })];
  },
};

/** CastLike(x, like): a cast to like's element type; only x carries a derivative (like gives the type alone). */
export const castLike: DerivativeRule = {
  opType: 'CastLike',
  jvp: (ctx, [dx]) => {
    const [x, like] = ctx.node.inputs;
    if (!dx || !FLOATS.has(ctx.dtype(like)) || !FLOATS.has(ctx.dtype(x))) return [undefined];
    return [ctx.b.op('CastLike', [dx, like])];
  },
  vjp: (ctx, [gy]) => {
    const [x] = ctx.node.inputs;
    if (!gy || !FLOATS.has(ctx.dtype(x)) || !FLOATS.has(ctx.dtype(ctx.node.outputs[0]))) return [undefined, undefined];
    return [ctx.b.op('CastLike', [gy, x]), undefined];
  },
};
