import { add, alignRank, expandToOutput } from '../helpers';
import type { DerivativeRule, RuleContext } from '../rule';
import { standardize } from './normalize';

/**
 * LayerNormalization over the trailing axes from `axis`: y = xhat * scale + bias with
 * xhat = (x - mean) / sigma. With dx̂ = (dx - mean(dx) - xhat mean(dx xhat)) / sigma (the Jacobian of
 * the normalisation is symmetric), dy = scale dx̂ + xhat dscale + dbias, and the reverse applies the
 * same projection to scale * gy.
 */
function parts(ctx: RuleContext) {
  const [x] = ctx.node.inputs;
  const rank = ctx.shape(x).length;
  const a = ctx.int('axis', -1);
  const first = a < 0 ? a + rank : a;
  const normAxes = Array.from({ length: rank - first }, (_, i) => i + first);
  return { ...standardize(ctx, x, normAxes, ctx.float('epsilon', 1e-5)), first };
}

/** LayerNormalization (opset 17). */
export const layerNormalization: DerivativeRule = {
  opType: 'LayerNormalization',
  jvp: (ctx, [dx, dscale, dbias]) => {
    const b = ctx.b;
    const [x, scale, bias] = ctx.node.inputs;
    const rank = ctx.shape(x).length;
    const p = parts(ctx);
    let d = dx ? b.op('Mul', [p.project(dx), scale]) : undefined;
    if (dscale) d = add(b, d, b.op('Mul', [p.xhat, alignRank(b, dscale, ctx.shape(scale), rank)]));
    if (dbias) d = add(b, d, alignRank(b, dbias, ctx.shape(bias), rank));
    return [expandToOutput(b, d, dx || dscale ? [ctx.shape(x)] : [], ctx.shape(x))];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined, undefined];
    const b = ctx.b;
    const [, scale, bias] = ctx.node.inputs;
    const p = parts(ctx);
    const gx = p.project(b.op('Mul', [gy, scale]));
    const sumAxes = b.int64(Array.from({ length: p.first }, (_, i) => i + 1));
    const reduce = (t: string) => (p.first > 0 ? b.op('ReduceSum', [t, sumAxes], { keepdims: 0 }) : t);
    return [gx, reduce(b.op('Mul', [gy, p.xhat])), bias ? reduce(gy) : undefined];
  },
};
