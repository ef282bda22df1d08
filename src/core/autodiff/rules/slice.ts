import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

/** The slice as a begin offset and size per axis of the primal input (steps of 1 only). */
function window(ctx: RuleContext): { begin: number[]; size: number[] } {
  const x = ctx.shape(ctx.node.inputs[0]);
  const y = ctx.shape(ctx.node.outputs[0]);
  const [, starts, , axes, steps] = ctx.node.inputs;
  const s = starts ? ctx.constant(starts) : undefined;
  const ax = axes ? ctx.constant(axes) : undefined;
  const st = steps ? ctx.constant(steps) : undefined;
  if (!s) throw new UnsupportedDerivative(ctx.node, 'slice starts must be constant');
  if (st && [...st].some((v) => v !== 1)) throw new UnsupportedDerivative(ctx.node, 'slices with steps other than 1 are not covered');
  const begin = new Array(x.length).fill(0);
  const axisList = ax ? [...ax].map((a) => (a < 0 ? a + x.length : a)) : Array.from({ length: s.length }, (_, i) => i);
  axisList.forEach((a, i) => {
    const v = s[i];
    begin[a] = Math.min(Math.max(v < 0 ? v + x[a] : v, 0), x[a]);
  });
  return { begin, size: y };
}

/** Slice with unit steps: the tangent is the same slice; the cotangent is zero-padded back. */
export const slice: DerivativeRule = {
  opType: 'Slice',
  jvp: (ctx, [dx]) => {
    if (!dx) return [undefined];
    const { begin, size } = window(ctx);
    const axes = begin.map((_, i) => i + 1);
    return [ctx.b.op('Slice', [dx, ctx.b.int64(begin), ctx.b.int64(begin.map((v, i) => v + size[i])), ctx.b.int64(axes)])];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined];
    const x = ctx.shape(ctx.node.inputs[0]);
    const { begin, size } = window(ctx);
    const pads = [0, ...begin, 0, ...x.map((d, i) => d - begin[i] - size[i])];
    return [ctx.b.op('Pad', [gy, ctx.b.int64(pads)])];
  },
};
