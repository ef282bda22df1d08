import { DataType } from '../onnx/types';
import type { GraphBuilder } from './builder';
import type { RuleContext } from './rule';

/**
 * Sums a batched derivative of shape [K, ...outShape] down to [K, ...target] (the reverse of numpy
 * broadcasting), for the cotangent of an input that was broadcast.
 */
export function unbroadcast(b: GraphBuilder, g: string, outShape: number[], target: number[]): string {
  const lead = outShape.length - target.length;
  const axes: number[] = [];
  for (let i = 0; i < outShape.length; i++) {
    const t = i - lead;
    if (t < 0 || (target[t] === 1 && outShape[i] !== 1)) axes.push(i + 1);
  }
  if (axes.length === 0 && lead === 0) return g;
  const summed = axes.length > 0 ? b.op('ReduceSum', [g, b.int64(axes)], { keepdims: 1 }) : g;
  return b.op('Reshape', [summed, b.int64([-1, ...target])]);
}

/** Reshapes a batched tangent of an input of shape `shape` to the rank of an output of rank `outRank` (leading 1s), so it broadcasts against other tangents. */
export function alignRank(b: GraphBuilder, t: string, shape: number[], outRank: number): string {
  if (shape.length >= outRank) return t;
  return b.op('Reshape', [t, b.int64([-1, ...new Array(outRank - shape.length).fill(1), ...shape])]);
}

/**
 * Broadcasts a batched tangent to [K, ...out] unless one of the contributing primal shapes already
 * is `out` (a sum of tangents of broadcast inputs, e.g. only a bias varying, is smaller than the output).
 */
export function expandToOutput(b: GraphBuilder, t: string | undefined, contributing: number[][], out: number[]): string | undefined {
  if (!t || contributing.some((s) => s.length === out.length && s.every((d, i) => d === out[i]))) return t;
  return b.op('Expand', [t, b.int64([1, ...out])]);
}

/** a + b where either may be zero (undefined). */
export function add(b: GraphBuilder, x: string | undefined, y: string | undefined): string | undefined {
  if (!x) return y;
  if (!y) return x;
  return b.op('Add', [x, y]);
}

/** A float constant of the primal tensor's element type. */
export function scalarLike(ctx: RuleContext, like: string, value: number): string {
  return ctx.b.scalar(value, ctx.dtype(like) === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT);
}

/** Zeros of shape [K, ...shape], K taken from the batched tensor `kSource`. */
export function zerosLike(ctx: RuleContext, kSource: string, shape: number[], dtype: DataType): string {
  const b = ctx.b;
  const k = b.op('Slice', [b.op('Shape', [kSource]), b.int64([0]), b.int64([1])]);
  const full = b.op('Concat', [k, b.int64(shape)], { axis: 0 });
  const zero = { name: 'value', dataType: dtype, dims: [1], raw: new Uint8Array(dtype === DataType.DOUBLE ? 8 : 4) };
  return b.op('ConstantOfShape', [full], { value: zero });
}

/** The permutation that swaps the last two axes of a rank-`rank` tensor. */
export function swapLast(rank: number): number[] {
  const p = Array.from({ length: rank }, (_, i) => i);
  [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
  return p;
}

/** Casts a boolean mask to the primal float type of `like`. */
export function maskOf(ctx: RuleContext, mask: string, like: string): string {
  return ctx.b.op('Cast', [mask], { to: ctx.dtype(like) === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT });
}

/** GatherElements' and ScatterElements' indices (input 1) broadcast with a leading K axis taken from `like`, and the axis shifted past it. */
export function batchedElementIndices(ctx: RuleContext, like: string): { indices: string; axis: number } {
  const b = ctx.b;
  const idx = ctx.node.inputs[1];
  const shape = ctx.shape(idx);
  const k = b.op('Slice', [b.op('Shape', [like]), b.int64([0]), b.int64([1])]);
  const indices = b.op('Expand', [b.op('Reshape', [idx, b.int64([1, ...shape])]), b.op('Concat', [k, b.int64(shape)], { axis: 0 })]);
  const rank = ctx.shape(ctx.node.inputs[0]).length;
  const a = ctx.int('axis', 0);
  return { indices, axis: (a < 0 ? a + rank : a) + 1 };
}
