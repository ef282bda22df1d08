import { add, expandToOutput } from '../helpers';
import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';
import { standardize } from './normalize';

/** The standardisation over groups of channels, and per-channel views of scale and bias (per group at opset 18, per channel from 21). */
function parts(ctx: RuleContext) {
  const b = ctx.b;
  const [x, scale] = ctx.node.inputs;
  const shape = ctx.shape(x);
  const [n, c] = shape;
  const groups = ctx.int('num_groups', 0);
  if (groups <= 0 || c % groups !== 0) throw new UnsupportedDerivative(ctx.node, `num_groups ${groups} for ${c} channels`);
  const perGroup = ctx.shape(scale)[0] === groups && groups !== c;
  const inGroup = shape.slice(1).reduce((p, d) => p * d, 1) / groups;
  const grouped = b.op('Reshape', [x, b.int64([n, groups, inGroup])]);
  const s = standardize(ctx, grouped, [2], ctx.float('epsilon', 1e-5), x);
  const spatial = new Array<number>(shape.length - 2).fill(1);
  /** A [G] or [C] vector (batched: [K, G] or [K, C]) as [.., C, 1, ...] to broadcast over channels. */
  const channels = (t: string, batched: boolean) => {
    const lead = batched ? [-1] : [];
    const full = perGroup ? b.op('Expand', [b.op('Reshape', [t, b.int64([...lead, groups, 1])]), b.int64([...(batched ? [1] : []), groups, c / groups])]) : t;
    return b.op('Reshape', [full, b.int64([...lead, ...(batched ? [1] : []), c, ...spatial])]);
  };
  const ungroup = (t: string) => b.op('Reshape', [t, b.int64([-1, ...shape])]);
  const regroup = (t: string) => b.op('Reshape', [t, b.int64([-1, n, groups, inGroup])]);
  /** A batched per-channel sum [K, C] back to the parameter's own shape ([K, G] at opset 18). */
  const toParam = (t: string) => (perGroup ? b.op('ReduceSum', [b.op('Reshape', [t, b.int64([-1, groups, c / groups])]), b.int64([2])], { keepdims: 0 }) : t);
  const xhat = b.op('Reshape', [s.xhat, b.int64(shape)]);
  return { shape, xhat, project: (v: string) => ungroup(s.project(regroup(v))), channels, toParam };
}

/**
 * GroupNormalization (opset 18 and 21): y = scale xhat + bias with xhat standardised over each
 * group of channels and the spatial axes. Forward: dy = scale dxhat + xhat dscale + dbias; reverse:
 * gx = dxhat^T (scale gy), gscale and gbias summed over batch and positions (and the group's channels at opset 18).
 */
export const groupNormalization: DerivativeRule = {
  opType: 'GroupNormalization',
  jvp: (ctx, [dx, dscale, dbias]) => {
    const b = ctx.b;
    const p = parts(ctx);
    let d = dx ? b.op('Mul', [p.project(dx), p.channels(ctx.node.inputs[1], false)]) : undefined;
    if (dscale) d = add(b, d, b.op('Mul', [p.xhat, p.channels(dscale, true)]));
    if (dbias) d = add(b, d, p.channels(dbias, true));
    return [expandToOutput(b, d, dx || dscale ? [p.shape] : [], p.shape)];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined, undefined];
    const b = ctx.b;
    const p = parts(ctx);
    const axes = b.int64([1, ...Array.from({ length: p.shape.length - 2 }, (_, i) => i + 3)]);
    const sum = (t: string) => p.toParam(b.op('ReduceSum', [t, axes], { keepdims: 0 }));
    return [
      ctx.needs(0) ? p.project(b.op('Mul', [gy, p.channels(ctx.node.inputs[1], false)])) : undefined,
      ctx.needs(1) ? sum(b.op('Mul', [gy, p.xhat])) : undefined,
      ctx.needs(2) ? sum(gy) : undefined,
    ];
  },
};
