import { add, expandToOutput } from '../helpers';
import type { DerivativeRule } from '../rule';
import { standardize } from './normalize';

/**
 * InstanceNormalization: y = scale[c] xhat + bias[c], xhat standardised per sample and channel over
 * the spatial axes. Forward: dy = scale dxhat + xhat dscale + dbias. Reverse: gx = dxhat^T (scale gy)
 * (the standardisation's Jacobian is symmetric), gscale = sum of gy xhat, gbias = sum of gy, over
 * batch and positions. GroupNorm as PyTorch exports it (Reshape, InstanceNormalization, Reshape,
 * Mul, Add) goes through this rule.
 */
export const instanceNormalization: DerivativeRule = {
  opType: 'InstanceNormalization',
  jvp: (ctx, [dx, dscale, dbias]) => {
    const b = ctx.b;
    const [x, scale] = ctx.node.inputs;
    const shape = ctx.shape(x);
    const spatial = shape.length - 2;
    const s = standardize(ctx, x, Array.from({ length: spatial }, (_, i) => i + 2), ctx.float('epsilon', 1e-5));
    const perChannel = (t: string, batched: boolean) => b.op('Reshape', [t, b.int64([...(batched ? [-1, 1] : []), shape[1], ...new Array(spatial).fill(1)])]);
    let d = dx ? b.op('Mul', [s.project(dx), perChannel(scale, false)]) : undefined;
    if (dscale) d = add(b, d, b.op('Mul', [s.xhat, perChannel(dscale, true)]));
    if (dbias) d = add(b, d, perChannel(dbias, true));
    return [expandToOutput(b, d, dx || dscale ? [shape] : [], shape)];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined, undefined];
    const b = ctx.b;
    const [x, scale] = ctx.node.inputs;
    const shape = ctx.shape(x);
    const spatial = shape.length - 2;
    const s = standardize(ctx, x, Array.from({ length: spatial }, (_, i) => i + 2), ctx.float('epsilon', 1e-5));
    const channel = b.op('Reshape', [scale, b.int64([shape[1], ...new Array(spatial).fill(1)])]);
    const axes = b.int64([1, ...Array.from({ length: spatial }, (_, i) => i + 3)]);
    const sum = (t: string) => b.op('ReduceSum', [t, axes], { keepdims: 0 });
    return [
      ctx.needs(0) ? s.project(b.op('Mul', [gy, channel])) : undefined,
      ctx.needs(1) ? sum(b.op('Mul', [gy, s.xhat])) : undefined,
      ctx.needs(2) ? sum(gy) : undefined,
    ];
  },
};
