import { add, alignRank, expandToOutput, scalarLike, unbroadcast } from '../helpers';
import type { DerivativeRule, RuleContext } from '../rule';

/** op(X) for a primal 2-D operand. */
function opPrimal(ctx: RuleContext, x: string, trans: boolean): string {
  return trans ? ctx.b.op('Transpose', [x], { perm: [1, 0] }) : x;
}

/** op(dX) for a batched [K, r, c] derivative. */
function opBatched(ctx: RuleContext, d: string, trans: boolean): string {
  return trans ? ctx.b.op('Transpose', [d], { perm: [0, 2, 1] }) : d;
}

/** Gemm's operands and attributes. */
function gemmArgs(ctx: RuleContext) {
  const [a, b, c] = ctx.node.inputs;
  return {
    a, b, c,
    ta: ctx.int('transA', 0) === 1,
    tb: ctx.int('transB', 0) === 1,
    alpha: ctx.float('alpha', 1),
    beta: ctx.float('beta', 1),
    y: ctx.node.outputs[0],
  };
}

function scale(ctx: RuleContext, t: string, factor: number, like: string): string {
  return factor === 1 ? t : ctx.b.op('Mul', [t, scalarLike(ctx, like, factor)]);
}

/**
 * Gemm: Y = alpha op(A) op(B) + beta C. Forward: dY = alpha (op(dA) op(B) + op(A) op(dB)) + beta dC.
 * Reverse: g op(A) = alpha gY op(B)^T, g op(B) = alpha op(A)^T gY, gC = beta gY summed to C's shape.
 */
export const gemm: DerivativeRule = {
  opType: 'Gemm',
  jvp: (ctx, [da, db, dc]) => {
    const { a, b, c, ta, tb, alpha, beta, y } = gemmArgs(ctx);
    let d = add(
      ctx.b,
      da ? ctx.b.op('MatMul', [opBatched(ctx, da, ta), opPrimal(ctx, b, tb)]) : undefined,
      db ? ctx.b.op('MatMul', [opPrimal(ctx, a, ta), opBatched(ctx, db, tb)]) : undefined,
    );
    if (d) d = scale(ctx, d, alpha, y);
    if (dc && c) d = add(ctx.b, d, scale(ctx, alignRank(ctx.b, dc, ctx.shape(c), 2), beta, y));
    return [expandToOutput(ctx.b, d, da || db ? [ctx.shape(y)] : [ctx.shape(c)], ctx.shape(y))];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined, undefined];
    const { a, b, c, ta, tb, alpha, beta, y } = gemmArgs(ctx);
    // g op(A) = gY op(B)^T; if A was transposed, gA is its transpose.
    const gOpA = ctx.b.op('MatMul', [gy, opPrimal(ctx, b, !tb)]);
    const gOpB = ctx.b.op('MatMul', [opPrimal(ctx, a, !ta), gy]);
    const ga = scale(ctx, opBatched(ctx, gOpA, ta), alpha, y);
    const gb = scale(ctx, opBatched(ctx, gOpB, tb), alpha, y);
    const gc = c ? scale(ctx, unbroadcast(ctx.b, gy, ctx.shape(y), ctx.shape(c)), beta, y) : undefined;
    return [ga, gb, gc];
  },
};
