import { add, alignRank, scalarLike } from '../helpers';
import type { DerivativeRule, RuleContext } from '../rule';

/**
 * LayerNormalization over the trailing axes from `axis`: y = xhat * scale + bias with
 * xhat = (x - mean) / sigma. With dx̂ = (dx - mean(dx) - xhat mean(dx xhat)) / sigma (the Jacobian of
 * the normalisation is symmetric), dy = scale dx̂ + xhat dscale + dbias, and the reverse applies the
 * same projection to scale * gy.
 */
function parts(ctx: RuleContext) {
  const b = ctx.b;
  const [x] = ctx.node.inputs;
  const rank = ctx.shape(x).length;
  const a = ctx.int('axis', -1);
  const first = a < 0 ? a + rank : a;
  const normAxes = Array.from({ length: rank - first }, (_, i) => i + first);
  const mean = b.op('ReduceMean', [x], { axes: normAxes, keepdims: 1 });
  const centered = b.op('Sub', [x, mean]);
  const variance = b.op('ReduceMean', [b.op('Mul', [centered, centered])], { axes: normAxes, keepdims: 1 });
  const sigma = b.op('Sqrt', [b.op('Add', [variance, scalarLike(ctx, x, ctx.float('epsilon', 1e-5))])]);
  const xhat = b.op('Div', [centered, sigma]);
  const project = (v: string) => {
    const m = b.op('ReduceMean', [v], { axes: normAxes.map((q) => q + 1), keepdims: 1 });
    const mx = b.op('ReduceMean', [b.op('Mul', [v, xhat])], { axes: normAxes.map((q) => q + 1), keepdims: 1 });
    return b.op('Div', [b.op('Sub', [b.op('Sub', [v, m]), b.op('Mul', [xhat, mx])]), sigma]);
  };
  return { xhat, project, first };
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
    return [d];
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
