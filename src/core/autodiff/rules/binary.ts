import { add, alignRank, expandToOutput, scalarLike, unbroadcast } from '../helpers';
import type { DerivativeRule, Derivs, RuleContext } from '../rule';
import { UnsupportedDerivative } from '../rule';

/** Aligns the tangents of a broadcasting binary op's inputs to the output's rank. */
function aligned(ctx: RuleContext, d: Derivs): Derivs {
  const rank = ctx.shape(ctx.node.outputs[0]).length;
  return d.slice(0, 2).map((t, i) => (t ? alignRank(ctx.b, t, ctx.shape(ctx.node.inputs[i]), rank) : undefined));
}

/** Cotangents of both inputs from per-input contributions of shape [K, ...out]. */
function reduceTo(ctx: RuleContext, ga: string | undefined, gb: string | undefined): Derivs {
  const out = ctx.shape(ctx.node.outputs[0]);
  const [a, b] = ctx.node.inputs;
  return [ga ? unbroadcast(ctx.b, ga, out, ctx.shape(a)) : undefined, gb ? unbroadcast(ctx.b, gb, out, ctx.shape(b)) : undefined];
}

/** The shapes of the inputs whose tangents are present. */
function contributing(ctx: RuleContext, d: Derivs): number[][] {
  return ctx.node.inputs.slice(0, 2).filter((x, i) => x && d[i]).map((x) => ctx.shape(x));
}

/** Add: d(a + b) = da + db. */
export const addRule: DerivativeRule = {
  opType: 'Add',
  jvp: (ctx, d) => {
    const [da, db] = aligned(ctx, d);
    return [expandToOutput(ctx.b, add(ctx.b, da, db), contributing(ctx, d), ctx.shape(ctx.node.outputs[0]))];
  },
  vjp: (ctx, [gy]) => (gy ? reduceTo(ctx, gy, gy) : [undefined, undefined]),
};

/** Sub: d(a - b) = da - db. */
export const subRule: DerivativeRule = {
  opType: 'Sub',
  jvp: (ctx, d) => {
    const [da, db] = aligned(ctx, d);
    return [expandToOutput(ctx.b, add(ctx.b, da, db ? ctx.b.op('Neg', [db]) : undefined), contributing(ctx, d), ctx.shape(ctx.node.outputs[0]))];
  },
  vjp: (ctx, [gy]) => (gy ? reduceTo(ctx, gy, ctx.b.op('Neg', [gy])) : [undefined, undefined]),
};

/** Mul: d(a b) = da b + a db. */
export const mulRule: DerivativeRule = {
  opType: 'Mul',
  jvp: (ctx, d) => {
    const [a, b] = ctx.node.inputs;
    const [da, db] = aligned(ctx, d);
    return [add(ctx.b, da ? ctx.b.op('Mul', [da, b]) : undefined, db ? ctx.b.op('Mul', [a, db]) : undefined)];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined];
    const [a, b] = ctx.node.inputs;
    return reduceTo(ctx, ctx.b.op('Mul', [gy, b]), ctx.b.op('Mul', [gy, a]));
  },
};

/** Div: d(a / b) = (da - y db) / b. */
export const divRule: DerivativeRule = {
  opType: 'Div',
  jvp: (ctx, d) => {
    const [, b] = ctx.node.inputs;
    const y = ctx.node.outputs[0];
    const [da, db] = aligned(ctx, d);
    const num = add(ctx.b, da, db ? ctx.b.op('Neg', [ctx.b.op('Mul', [y, db])]) : undefined);
    return [num ? ctx.b.op('Div', [num, b]) : undefined];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined];
    const [, b] = ctx.node.inputs;
    const y = ctx.node.outputs[0];
    const ga = ctx.b.op('Div', [gy, b]);
    return reduceTo(ctx, ga, ctx.b.op('Neg', [ctx.b.op('Mul', [ga, y])]));
  },
};

/** Pow with a constant exponent p: d(x^p) = p x^(p-1) dx. */
export const powRule: DerivativeRule = {
  opType: 'Pow',
  jvp: (ctx, [dx, dp]) => {
    if (dp) throw new UnsupportedDerivative(ctx.node, 'the exponent must be constant');
    return [dx ? ctx.b.op('Mul', [alignRank(ctx.b, dx, ctx.shape(ctx.node.inputs[0]), ctx.shape(ctx.node.outputs[0]).length), slope(ctx)]) : undefined];
  },
  vjp: (ctx, [gy]) => [gy ? unbroadcast(ctx.b, ctx.b.op('Mul', [gy, slope(ctx)]), ctx.shape(ctx.node.outputs[0]), ctx.shape(ctx.node.inputs[0])) : undefined, undefined],
};

function slope(ctx: RuleContext): string {
  const [x, p] = ctx.node.inputs;
  const pm1 = ctx.b.op('Sub', [p, ctx.b.op('CastLike', [scalarLike(ctx, x, 1), p])]);
  return ctx.b.op('Mul', [ctx.b.op('CastLike', [p, x]), ctx.b.op('Pow', [x, pm1])]);
}
