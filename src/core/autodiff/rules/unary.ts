import { maskOf, scalarLike } from '../helpers';
import type { DerivativeRule, RuleContext } from '../rule';

/**
 * Elementwise y = f(x): J = diag(f'(x)), so J v = f'(x) * v and J^T u = f'(x) * u. Each rule below
 * only says how to build f'(x) from the primal input x and output y.
 */
function elementwise(opType: string, slope: (ctx: RuleContext, x: string, y: string) => string | undefined): DerivativeRule {
  const apply = (ctx: RuleContext, d: string | undefined): string | undefined => {
    if (!d) return undefined;
    const s = slope(ctx, ctx.node.inputs[0], ctx.node.outputs[0]);
    return s ? ctx.b.op('Mul', [d, s]) : d;
  };
  return {
    opType,
    jvp: (ctx, [dx]) => [apply(ctx, dx)],
    vjp: (ctx, [gy]) => [apply(ctx, gy)],
  };
}

/** Relu: f'(x) = 1 where x > 0, else 0. */
export const relu = elementwise('Relu', (ctx, x) => maskOf(ctx, ctx.b.op('Greater', [x, scalarLike(ctx, x, 0)]), x));

/** LeakyRelu: f'(x) = 1 where x > 0, else alpha. */
export const leakyRelu = elementwise('LeakyRelu', (ctx, x) => {
  const alpha = scalarLike(ctx, x, ctx.float('alpha', 0.01));
  return ctx.b.op('Where', [ctx.b.op('Greater', [x, scalarLike(ctx, x, 0)]), scalarLike(ctx, x, 1), alpha]);
});

/** Sigmoid: f'(x) = y (1 - y). */
export const sigmoid = elementwise('Sigmoid', (ctx, _x, y) => ctx.b.op('Mul', [y, ctx.b.op('Sub', [scalarLike(ctx, y, 1), y])]));

/** Tanh: f'(x) = 1 - y^2. */
export const tanh = elementwise('Tanh', (ctx, _x, y) => ctx.b.op('Sub', [scalarLike(ctx, y, 1), ctx.b.op('Mul', [y, y])]));

/** Exp: f'(x) = y. */
export const exp = elementwise('Exp', (_ctx, _x, y) => y);

/** Log: f'(x) = 1 / x. */
export const log = elementwise('Log', (ctx, x) => ctx.b.op('Reciprocal', [x]));

/** Sqrt: f'(x) = 1 / (2 y). */
export const sqrt = elementwise('Sqrt', (ctx, _x, y) => ctx.b.op('Div', [scalarLike(ctx, y, 0.5), y]));

/** Reciprocal: f'(x) = -y^2. */
export const reciprocal = elementwise('Reciprocal', (ctx, _x, y) => ctx.b.op('Neg', [ctx.b.op('Mul', [y, y])]));

/** Neg: f'(x) = -1. */
export const neg = elementwise('Neg', (ctx, x) => scalarLike(ctx, x, -1));

/** Abs: f'(x) = sign(x). */
export const abs = elementwise('Abs', (ctx, x) => ctx.b.op('Sign', [x]));

/** Erf: f'(x) = 2 / sqrt(pi) exp(-x^2). */
export const erf = elementwise('Erf', (ctx, x) =>
  ctx.b.op('Mul', [scalarLike(ctx, x, 2 / Math.sqrt(Math.PI)), ctx.b.op('Exp', [ctx.b.op('Neg', [ctx.b.op('Mul', [x, x])])])]),
);

/** Softplus: f'(x) = sigmoid(x). */
export const softplus = elementwise('Softplus', (ctx, x) => ctx.b.op('Sigmoid', [x]));

/** Identity: f'(x) = 1. */
export const identity = elementwise('Identity', () => undefined);

/** Dropout at inference is the identity (its mask output carries no derivative). */
export const dropout: DerivativeRule = {
  opType: 'Dropout',
  jvp: (_ctx, [dx]) => [dx, undefined],
  vjp: (_ctx, [gy]) => [gy],
};

/** Clip: f'(x) = 1 where min < x < max (bounds from inputs 1 and 2, or opset < 11 attributes), else 0. */
export const clip: DerivativeRule = {
  opType: 'Clip',
  jvp: (ctx, [dx]) => [dx ? ctx.b.op('Mul', [dx, clipMask(ctx)]) : undefined],
  vjp: (ctx, [gy]) => [gy ? ctx.b.op('Mul', [gy, clipMask(ctx)]) : undefined, undefined, undefined],
};

function clipMask(ctx: RuleContext): string {
  const b = ctx.b;
  const [x, lo, hi] = ctx.node.inputs;
  let inside: string | undefined;
  const low = lo ? lo : ctx.opset < 11 ? scalarLike(ctx, x, ctx.float('min', -3.4e38)) : undefined;
  const high = hi ? hi : ctx.opset < 11 ? scalarLike(ctx, x, ctx.float('max', 3.4e38)) : undefined;
  if (low) inside = b.op('Greater', [x, low]);
  if (high) {
    const below = b.op('Less', [x, high]);
    inside = inside ? b.op('And', [inside, below]) : below;
  }
  return inside ? maskOf(ctx, inside, x) : scalarLike(ctx, x, 1);
}

/** HardSigmoid: y = max(0, min(1, alpha x + beta)); f'(x) = alpha where 0 < alpha x + beta < 1. */
export const hardSigmoid = elementwise('HardSigmoid', (ctx, x) => {
  const b = ctx.b;
  const alpha = ctx.float('alpha', 0.2);
  const z = b.op('Add', [b.op('Mul', [x, scalarLike(ctx, x, alpha)]), scalarLike(ctx, x, ctx.float('beta', 0.5))]);
  const inside = b.op('And', [b.op('Greater', [z, scalarLike(ctx, x, 0)]), b.op('Less', [z, scalarLike(ctx, x, 1)])]);
  return b.op('Mul', [maskOf(ctx, inside, x), scalarLike(ctx, x, alpha)]);
});

/** HardSwish: y = x hardsigmoid(x) (alpha 1/6, beta 1/2); f'(x) = 0 below -3, 1 above 3, x / 3 + 1/2 between. */
export const hardSwish = elementwise('HardSwish', (ctx, x) => {
  const b = ctx.b;
  const mid = b.op('Add', [b.op('Mul', [x, scalarLike(ctx, x, 1 / 3)]), scalarLike(ctx, x, 0.5)]);
  const clipped = b.op('Where', [b.op('Less', [x, scalarLike(ctx, x, -3)]), scalarLike(ctx, x, 0), mid]);
  return b.op('Where', [b.op('Greater', [x, scalarLike(ctx, x, 3)]), scalarLike(ctx, x, 1), clipped]);
});

/** Elu: f'(x) = 1 for x > 0, else y + alpha. */
export const elu = elementwise('Elu', (ctx, x, y) => {
  const b = ctx.b;
  return b.op('Where', [b.op('Greater', [x, scalarLike(ctx, x, 0)]), scalarLike(ctx, x, 1), b.op('Add', [y, scalarLike(ctx, x, ctx.float('alpha', 1))])]);
});

/**
 * Gelu (opset 20). Exact: y = x Phi(x), f'(x) = Phi(x) + x phi(x). approximate 'tanh':
 * y = x (1 + tanh(u)) / 2 with u = sqrt(2 / pi) (x + 0.044715 x^3),
 * f'(x) = (1 + t) / 2 + x (1 - t^2) sqrt(2 / pi) (1 + 3 * 0.044715 x^2) / 2.
 */
export const gelu = elementwise('Gelu', (ctx, x) => {
  const b = ctx.b;
  const c = (v: number) => scalarLike(ctx, x, v);
  const x2 = b.op('Mul', [x, x]);
  if (ctx.str('approximate', 'none') === 'tanh') {
    const k = Math.sqrt(2 / Math.PI);
    const u = b.op('Mul', [b.op('Add', [x, b.op('Mul', [c(0.044715), b.op('Mul', [x2, x])])]), c(k)]);
    const t = b.op('Tanh', [u]);
    const du = b.op('Mul', [c(k), b.op('Add', [c(1), b.op('Mul', [c(3 * 0.044715), x2])])]);
    const left = b.op('Mul', [c(0.5), b.op('Add', [c(1), t])]);
    const right = b.op('Mul', [b.op('Mul', [c(0.5), x]), b.op('Mul', [b.op('Sub', [c(1), b.op('Mul', [t, t])]), du])]);
    return b.op('Add', [left, right]);
  }
  const cdf = b.op('Mul', [c(0.5), b.op('Add', [c(1), b.op('Erf', [b.op('Mul', [x, c(Math.SQRT1_2)])])])]);
  const pdf = b.op('Mul', [c(1 / Math.sqrt(2 * Math.PI)), b.op('Exp', [b.op('Mul', [x2, c(-0.5)])])]);
  return b.op('Add', [cdf, b.op('Mul', [x, pdf])]);
});
