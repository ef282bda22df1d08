import { maskOf, scalarLike } from '../helpers';
import type { DerivativeRule, RuleContext } from '../rule';

/**
 * The reduced axes (non-negative, of the primal input), from the attribute or the axes input; empty
 * when noop_with_empty_axes leaves the input unreduced.
 */
function reducedAxes(ctx: RuleContext): number[] {
  const rank = ctx.shape(ctx.node.inputs[0]).length;
  const fromInput = ctx.node.inputs[1] ? ctx.constant(ctx.node.inputs[1]) : undefined;
  const axes = fromInput ? [...fromInput] : ctx.ints('axes');
  if (!axes || axes.length === 0) {
    return ctx.int('noop_with_empty_axes', 0) === 1 ? [] : Array.from({ length: rank }, (_, i) => i);
  }
  return axes.map((a) => (a < 0 ? a + rank : a));
}

/** What a weight function sees: the primal input, its reduced axes, and the output reshaped to keep them (size 1). */
interface Reduced {
  x: string;
  axes: number[];
  /** The output with the reduced axes kept as size 1, so it broadcasts against x. */
  yKept: () => string;
}

/**
 * A reduction y = R(x) over axes whose Jacobian is a weight per input element: dy = sum over the
 * axes of w * dx, gx = w * gy spread over the reduced axes. `weight` builds w (undefined: w = 1).
 * With noop_with_empty_axes and no axes the input passes unreduced: J is the identity.
 */
function reduction(opType: string, weight: (ctx: RuleContext, r: Reduced) => string | undefined, axesOf: (ctx: RuleContext) => number[] = reducedAxes, keep: (ctx: RuleContext) => boolean = (ctx) => ctx.int('keepdims', 1) === 1): DerivativeRule {
  const facts = (ctx: RuleContext): Reduced => {
    const x = ctx.node.inputs[0];
    const shape = ctx.shape(x);
    const axes = axesOf(ctx);
    const y = ctx.node.outputs[0];
    const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    return { x, axes, yKept: () => (keep(ctx) ? y : ctx.b.op('Reshape', [y, ctx.b.int64(kept)])) };
  };
  return {
    opType,
    jvp: (ctx, [dx]) => {
      if (!dx) return [undefined];
      const r = facts(ctx);
      if (r.axes.length === 0) return [dx];
      const w = weight(ctx, r);
      const weighted = w ? ctx.b.op('Mul', [dx, w]) : dx;
      return [ctx.b.op('ReduceSum', [weighted, ctx.b.int64(r.axes.map((a) => a + 1))], { keepdims: keep(ctx) ? 1 : 0 })];
    },
    vjp: (ctx, [gy]) => {
      if (!gy) return [undefined];
      const r = facts(ctx);
      if (r.axes.length === 0) return [gy];
      const x = ctx.shape(r.x);
      const kept = x.map((d, i) => (r.axes.includes(i) ? 1 : d));
      const spread = ctx.b.op('Expand', [ctx.b.op('Reshape', [gy, ctx.b.int64([-1, ...kept])]), ctx.b.int64([1, ...x])]);
      const w = weight(ctx, r);
      return [w ? ctx.b.op('Mul', [spread, w]) : spread];
    },
  };
}

/** 1 / n for a mean over `axes` of `x`. */
function inverseCount(ctx: RuleContext, r: Reduced): string {
  const shape = ctx.shape(r.x);
  return scalarLike(ctx, r.x, 1 / r.axes.reduce((p, a) => p * shape[a], 1));
}

/** Where x attains the reduction's extreme value, split evenly among ties (a subgradient). */
function extremeWeight(ctx: RuleContext, r: Reduced): string {
  const b = ctx.b;
  const mask = maskOf(ctx, b.op('Equal', [r.x, r.yKept()]), r.x);
  return b.op('Div', [mask, b.op('ReduceSum', [mask, b.int64(r.axes)], { keepdims: 1 })]);
}

/** ReduceMean: the mean over axes; J spreads 1/n over each reduced group. */
export const reduceMean = reduction('ReduceMean', inverseCount);
/** ReduceSum: the sum over axes. */
export const reduceSum = reduction('ReduceSum', () => undefined);
/** ReduceMax: the gradient goes to the maximum (split evenly among ties). */
export const reduceMax = reduction('ReduceMax', extremeWeight);
/** ReduceMin: the gradient goes to the minimum (split evenly among ties). */
export const reduceMin = reduction('ReduceMin', extremeWeight);
/** ReduceL2: y = sqrt(sum x^2), w = x / y. */
export const reduceL2 = reduction('ReduceL2', (ctx, r) => ctx.b.op('Div', [r.x, r.yKept()]));
/** ReduceL1: y = sum |x|, w = sign(x). */
export const reduceL1 = reduction('ReduceL1', (ctx, r) => ctx.b.op('Sign', [r.x]));
/** ReduceSumSquare: y = sum x^2, w = 2 x. */
export const reduceSumSquare = reduction('ReduceSumSquare', (ctx, r) => ctx.b.op('Mul', [r.x, scalarLike(ctx, r.x, 2)]));
/** ReduceLogSumExp: y = log sum exp x, w = exp(x - y) (the softmax over the axes). */
export const reduceLogSumExp = reduction('ReduceLogSumExp', (ctx, r) => ctx.b.op('Exp', [ctx.b.op('Sub', [r.x, r.yKept()])]));
/** ReduceLogSum: y = log sum x, w = 1 / sum x = exp(-y). */
export const reduceLogSum = reduction('ReduceLogSum', (ctx, r) => ctx.b.op('Exp', [ctx.b.op('Neg', [r.yKept()])]));
/** GlobalAveragePool: the mean over all spatial axes, kept as size 1. */
export const globalAveragePool = reduction(
  'GlobalAveragePool',
  inverseCount,
  (ctx) => Array.from({ length: ctx.shape(ctx.node.inputs[0]).length - 2 }, (_, i) => i + 2),
  () => true,
);
/** GlobalMaxPool: the maximum over all spatial axes, kept as size 1 (split evenly among ties). */
export const globalMaxPool = reduction(
  'GlobalMaxPool',
  extremeWeight,
  (ctx) => Array.from({ length: ctx.shape(ctx.node.inputs[0]).length - 2 }, (_, i) => i + 2),
  () => true,
);
