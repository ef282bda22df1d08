import { add, expandToOutput, scalarLike } from '../helpers';
import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

/** Per-channel factor scale / sqrt(var + eps), shaped [C, 1, ...] to broadcast over [..., C, spatial]. */
function factor(ctx: RuleContext): { a: string; xhat: () => string; chan: (t: string) => string; axes: number[] } {
  if (ctx.int('training_mode', 0) === 1) throw new UnsupportedDerivative(ctx.node, 'training-mode BatchNormalization is not covered');
  const [x, scale, , mean, variance] = ctx.node.inputs;
  const b = ctx.b;
  const xs = ctx.shape(x);
  const spatial = xs.length - 2;
  const chan = (t: string) => b.op('Reshape', [t, b.int64([xs[1], ...new Array(spatial).fill(1)])]);
  const invStd = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance, scalarLike(ctx, x, ctx.float('epsilon', 1e-5))])])]);
  const a = chan(b.op('Mul', [scale, invStd]));
  const xhat = () => b.op('Mul', [b.op('Sub', [x, chan(mean)]), chan(invStd)]);
  // axes of a batched [K, B, C, ...] tensor to sum for a per-channel cotangent [K, C]
  const axes = [1, ...Array.from({ length: spatial }, (_, i) => i + 3)];
  return { a, xhat, chan, axes };
}

/**
 * BatchNormalization at inference: y = (x - mean) / sqrt(var + eps) * scale + bias, with the running
 * statistics constant. Forward: dy = a dx + xhat dscale + dbias with a = scale / sqrt(var + eps).
 */
export const batchNormalization: DerivativeRule = {
  opType: 'BatchNormalization',
  jvp: (ctx, [dx, dscale, dbias]) => {
    const f = factor(ctx);
    const b = ctx.b;
    const rank = ctx.shape(ctx.node.inputs[0]).length;
    const perChannel = (t: string) => b.op('Reshape', [t, b.int64([-1, 1, ctx.shape(ctx.node.inputs[0])[1], ...new Array(rank - 2).fill(1)])]);
    let d = dx ? b.op('Mul', [dx, f.a]) : undefined;
    if (dscale) d = add(b, d, b.op('Mul', [perChannel(dscale), f.xhat()]));
    if (dbias) d = add(b, d, perChannel(dbias));
    return [expandToOutput(b, d, dx || dscale ? [ctx.shape(ctx.node.inputs[0])] : [], ctx.shape(ctx.node.inputs[0]))];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [];
    const f = factor(ctx);
    const b = ctx.b;
    const sum = (t: string) => b.op('ReduceSum', [t, b.int64(f.axes)], { keepdims: 0 });
    return [b.op('Mul', [gy, f.a]), sum(b.op('Mul', [gy, f.xhat()])), sum(gy), undefined, undefined];
  },
};
