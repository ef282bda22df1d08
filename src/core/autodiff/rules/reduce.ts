import { scalarLike } from '../helpers';
import type { DerivativeRule, RuleContext } from '../rule';

/** The reduced axes (non-negative, of the primal input), from the attribute or the axes input. */
function reducedAxes(ctx: RuleContext): number[] {
  const rank = ctx.shape(ctx.node.inputs[0]).length;
  const fromInput = ctx.node.inputs[1] ? ctx.constant(ctx.node.inputs[1]) : undefined;
  const axes = fromInput ? [...fromInput] : ctx.ints('axes');
  if (!axes || axes.length === 0) {
    return ctx.int('noop_with_empty_axes', 0) === 1 ? [] : Array.from({ length: rank }, (_, i) => i);
  }
  return axes.map((a) => (a < 0 ? a + rank : a));
}

function reduction(opType: string, mean: boolean, axesOf: (ctx: RuleContext) => number[], keep: (ctx: RuleContext) => boolean): DerivativeRule {
  const count = (ctx: RuleContext, axes: number[]) => axes.reduce((p, a) => p * ctx.shape(ctx.node.inputs[0])[a], 1);
  return {
    opType,
    jvp: (ctx, [dx]) => {
      if (!dx) return [undefined];
      const axes = axesOf(ctx);
      const summed = ctx.b.op('ReduceSum', [dx, ctx.b.int64(axes.map((a) => a + 1))], { keepdims: keep(ctx) ? 1 : 0 });
      return [mean ? ctx.b.op('Mul', [summed, scalarLike(ctx, ctx.node.inputs[0], 1 / count(ctx, axes))]) : summed];
    },
    vjp: (ctx, [gy]) => {
      if (!gy) return [undefined];
      const x = ctx.shape(ctx.node.inputs[0]);
      const axes = axesOf(ctx);
      const kept = x.map((d, i) => (axes.includes(i) ? 1 : d));
      const spread = ctx.b.op('Expand', [ctx.b.op('Reshape', [gy, ctx.b.int64([-1, ...kept])]), ctx.b.int64([1, ...x])]);
      return [mean ? ctx.b.op('Mul', [spread, scalarLike(ctx, ctx.node.inputs[0], 1 / count(ctx, axes))]) : spread];
    },
  };
}

/** ReduceMean: the mean over axes; J spreads 1/n over each reduced group. */
export const reduceMean = reduction('ReduceMean', true, reducedAxes, (ctx) => ctx.int('keepdims', 1) === 1);
/** ReduceSum: the sum over axes. */
export const reduceSum = reduction('ReduceSum', false, reducedAxes, (ctx) => ctx.int('keepdims', 1) === 1);
/** GlobalAveragePool: the mean over all spatial axes, kept as size 1. */
export const globalAveragePool = reduction(
  'GlobalAveragePool',
  true,
  (ctx) => Array.from({ length: ctx.shape(ctx.node.inputs[0]).length - 2 }, (_, i) => i + 2),
  () => true,
);
