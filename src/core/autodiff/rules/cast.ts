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
