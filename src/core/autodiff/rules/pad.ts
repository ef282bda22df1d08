import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

/** The padding per axis of the primal input, from the pads input (opset 11+) or attribute, and the optional axes input. */
function pads(ctx: RuleContext): { begin: number[]; end: number[] } {
  const rank = ctx.shape(ctx.node.inputs[0]).length;
  const fromInput = ctx.node.inputs[1] ? ctx.constant(ctx.node.inputs[1]) : undefined;
  const all = fromInput ? [...fromInput] : ctx.ints('pads') ?? [];
  const axesInput = ctx.node.inputs[3] ? ctx.constant(ctx.node.inputs[3]) : undefined;
  const begin = new Array<number>(rank).fill(0);
  const end = new Array<number>(rank).fill(0);
  const axes = axesInput ? [...axesInput].map((a) => (a < 0 ? a + rank : a)) : Array.from({ length: rank }, (_, i) => i);
  axes.forEach((a, i) => {
    begin[a] = all[i];
    end[a] = all[i + axes.length];
  });
  if ([...begin, ...end].some((v) => v < 0)) throw new UnsupportedDerivative(ctx.node, 'negative pads (cropping)');
  return { begin, end };
}

/** The padding mode, checked against what the reverse rule covers for the input's sizes. */
function mode(ctx: RuleContext, p: { begin: number[]; end: number[] }): string {
  const m = ctx.str('mode', 'constant');
  const x = ctx.shape(ctx.node.inputs[0]);
  if (!['constant', 'reflect', 'edge'].includes(m)) throw new UnsupportedDerivative(ctx.node, `mode '${m}'`);
  x.forEach((n, a) => {
    const widest = Math.max(p.begin[a], p.end[a]);
    if (m === 'reflect' && widest > n - 1) throw new UnsupportedDerivative(ctx.node, `reflect padding ${widest} wider than the axis (${n}) allows`);
  });
  return m;
}

/**
 * Pad (constant, reflect and edge modes): linear in x (the constant value carries no
 * derivative). Forward: the tangent padded the same way, with zeros for the constant. Reverse, one
 * axis at a time: the middle of the cotangent is x's own, and each padded band is added back onto
 * the elements it copied (reversed for reflect, summed onto the end element for edge).
 */
export const pad: DerivativeRule = {
  opType: 'Pad',
  jvp: (ctx, [dx]) => {
    if (!dx) return [undefined];
    const p = pads(ctx);
    const m = mode(ctx, p);
    return [ctx.b.op('Pad', [dx, ctx.b.int64([0, ...p.begin, 0, ...p.end])], m === 'constant' ? {} : { mode: m })];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined];
    const b = ctx.b;
    const p = pads(ctx);
    const m = mode(ctx, p);
    const x = ctx.shape(ctx.node.inputs[0]);
    const rank = x.length + 1;
    const range = (t: string, axis: number, from: number, to: number) => b.op('Slice', [t, b.int64([from]), b.int64([to]), b.int64([axis])]);
    const reversed = (t: string, axis: number, length: number) => b.op('Slice', [t, b.int64([-1]), b.int64([-(length + 1)]), b.int64([axis]), b.int64([-1])]);
    const placed = (t: string, axis: number, before: number, after: number) => {
      const all = new Array<number>(2 * rank).fill(0);
      all[axis] = before;
      all[axis + rank] = after;
      return b.op('Pad', [t, b.int64(all)]);
    };
    let t = gy;
    for (let a = 0; a < x.length; a++) {
      const [before, after, n] = [p.begin[a], p.end[a], x[a]];
      if (before === 0 && after === 0) continue;
      const axis = a + 1;
      let g = range(t, axis, before, before + n);
      if (m !== 'constant' && before > 0) {
        const band = range(t, axis, 0, before);
        const back = m === 'reflect' ? placed(reversed(band, axis, before), axis, 1, n - 1 - before)
          : placed(b.op('ReduceSum', [band, b.int64([axis])], { keepdims: 1 }), axis, 0, n - 1);
        g = b.op('Add', [g, back]);
      }
      if (m !== 'constant' && after > 0) {
        const band = range(t, axis, before + n, before + n + after);
        const back = m === 'reflect' ? placed(reversed(band, axis, after), axis, n - 1 - after, 1)
          : placed(b.op('ReduceSum', [band, b.int64([axis])], { keepdims: 1 }), axis, n - 1, 0);
        g = b.op('Add', [g, back]);
      }
      t = g;
    }
    return [t];
  },
};
