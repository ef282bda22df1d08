import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

/** The softmax axis as a negative axis; opset < 13 normalises over all axes from `axis` on, covered only when that is the last one. */
function axis(ctx: RuleContext): number {
  const opset = ctx.opset;
  const rank = ctx.shape(ctx.node.outputs[0]).length;
  const raw = ctx.int('axis', opset >= 13 ? -1 : 1);
  const a = raw < 0 ? raw + rank : raw;
  if (opset < 13 && a !== rank - 1) throw new UnsupportedDerivative(ctx.node, `opset ${opset} Softmax over axes ${a}.. is not covered`);
  return a - rank;
}

/** y (v - sum(y v, axis)): the Jacobian of softmax is diag(y) - y y^T, which is symmetric. */
function apply(ctx: RuleContext, v: string): string {
  const y = ctx.node.outputs[0];
  const b = ctx.b;
  const dot = b.op('ReduceSum', [b.op('Mul', [y, v]), b.int64([axis(ctx)])], { keepdims: 1 });
  return b.op('Mul', [y, b.op('Sub', [v, dot])]);
}

/** Softmax (opset 13+: one axis; earlier opsets when the axis is the last). */
export const softmax: DerivativeRule = {
  opType: 'Softmax',
  jvp: (ctx, [dx]) => [dx ? apply(ctx, dx) : undefined],
  vjp: (ctx, [gy]) => [gy ? apply(ctx, gy) : undefined],
};

/** LogSoftmax: J = I - 1 softmax^T; forward dy = dx - sum(dx * s), reverse gx = gy - s sum(gy). */
export const logSoftmax: DerivativeRule = {
  opType: 'LogSoftmax',
  jvp: (ctx, [dx]) => {
    if (!dx) return [undefined];
    const b = ctx.b;
    const a = axis(ctx);
    const s = b.op('Exp', [ctx.node.outputs[0]]);
    return [b.op('Sub', [dx, b.op('ReduceSum', [b.op('Mul', [dx, s]), b.int64([a])], { keepdims: 1 })])];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined];
    const b = ctx.b;
    const a = axis(ctx);
    const s = b.op('Exp', [ctx.node.outputs[0]]);
    return [b.op('Sub', [gy, b.op('Mul', [s, b.op('ReduceSum', [gy, b.int64([a])], { keepdims: 1 })])])];
  },
};
