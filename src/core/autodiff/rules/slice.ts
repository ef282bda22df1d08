import { zerosLike } from '../helpers';
import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

/** Per axis of the primal input: the first element taken, the step between taken elements, and how many. */
interface Window {
  start: number[];
  step: number[];
  count: number[];
}

/** The slice's starts, ends, axes and steps (inputs from opset 10, attributes before). */
function params(ctx: RuleContext): { starts: number[]; ends: number[]; axes?: number[]; steps?: number[] } {
  if (ctx.opset < 10) {
    const starts = ctx.ints('starts');
    const ends = ctx.ints('ends');
    if (!starts || !ends) throw new UnsupportedDerivative(ctx.node, 'missing starts or ends');
    return { starts, ends, axes: ctx.ints('axes') };
  }
  const [, s, e, a, st] = ctx.node.inputs;
  const known = (name: string | undefined) => (name ? ctx.constant(name) : undefined);
  const starts = known(s);
  const ends = known(e);
  if (!starts || !ends) throw new UnsupportedDerivative(ctx.node, 'slice starts and ends must be known');
  const axes = known(a);
  const steps = known(st);
  if (a && !axes) throw new UnsupportedDerivative(ctx.node, 'slice axes must be known');
  if (st && !steps) throw new UnsupportedDerivative(ctx.node, 'slice steps must be known');
  return { starts: [...starts], ends: [...ends], axes: axes ? [...axes] : undefined, steps: steps ? [...steps] : undefined };
}

/** The slice resolved against the primal input's shape (ONNX clamping rules); counts from the output shape. */
function window(ctx: RuleContext): Window {
  const x = ctx.shape(ctx.node.inputs[0]);
  const y = ctx.shape(ctx.node.outputs[0]);
  const p = params(ctx);
  const start = new Array<number>(x.length).fill(0);
  const step = new Array<number>(x.length).fill(1);
  const axisList = p.axes ? p.axes.map((a) => (a < 0 ? a + x.length : a)) : p.starts.map((_, i) => i);
  axisList.forEach((a, i) => {
    const st = p.steps?.[i] ?? 1;
    if (st === 0) throw new UnsupportedDerivative(ctx.node, 'a slice step of 0');
    const d = x[a];
    let s = p.starts[i];
    if (s < 0) s += d;
    start[a] = st > 0 ? Math.min(Math.max(s, 0), d) : Math.min(Math.max(s, 0), d - 1);
    step[a] = st;
  });
  return { start, step, count: y };
}

/**
 * Slice (any starts, ends, axes and steps, negative steps too). Forward: the same slice of the
 * tangent, written with resolved bounds. Reverse: per axis, a negative step is undone by reversing
 * the cotangent, a step s > 1 spreads it out (s - 1 zeros after each element), and one Pad puts it
 * at its offset in a zero tensor of the input's shape.
 */
export const slice: DerivativeRule = {
  opType: 'Slice',
  jvp: (ctx, [dx]) => {
    if (!dx) return [undefined];
    const x = ctx.shape(ctx.node.inputs[0]);
    const w = window(ctx);
    // ends as exclusive bounds past the last element; -(d + 1) is "before the first" for a negative step
    const ends = w.start.map((s, a) => {
      const last = s + (w.count[a] - 1) * w.step[a];
      const end = last + Math.sign(w.step[a]);
      return end < 0 ? -(x[a] + 1) : end;
    });
    const axes = x.map((_, i) => i + 1);
    return [ctx.b.op('Slice', [dx, ctx.b.int64(w.start), ctx.b.int64(ends), ctx.b.int64(axes), ctx.b.int64(w.step)])];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined];
    const b = ctx.b;
    const x = ctx.shape(ctx.node.inputs[0]);
    const w = window(ctx);
    if (w.count.some((c) => c === 0)) return [zerosLike(ctx, gy, x, ctx.dtype(ctx.node.inputs[0]))];
    let t = gy;
    const cur = [...w.count];
    const offset = [...w.start];
    for (let a = 0; a < x.length; a++) {
      let st = w.step[a];
      const c = w.count[a];
      if (st < 0) {
        // reversed, the elements sit at increasing positions from the last one taken
        t = b.op('Slice', [t, b.int64([-1]), b.int64([-(c + 1)]), b.int64([a + 1]), b.int64([-1])]);
        offset[a] = w.start[a] + (c - 1) * st;
        st = -st;
      }
      if (st > 1) {
        const inner = [...cur.slice(0, a + 1), 1, ...cur.slice(a + 1)];
        const spaced = b.op('Pad', [b.op('Reshape', [t, b.int64([-1, ...inner])]), b.int64(padsFor(inner.length + 1, a + 2, 0, st - 1))]);
        const length = Math.min(c * st, x[a] - offset[a]);
        const merged = b.op('Reshape', [spaced, b.int64([-1, ...cur.slice(0, a), c * st, ...cur.slice(a + 1)])]);
        t = length < c * st ? b.op('Slice', [merged, b.int64([0]), b.int64([length]), b.int64([a + 1])]) : merged;
        cur[a] = length;
      }
    }
    const pads = [0, ...offset, 0, ...x.map((d, a) => d - offset[a] - cur[a])];
    return [pads.every((p) => p === 0) ? t : b.op('Pad', [t, b.int64(pads)])];
  },
};

/** ONNX pads for a rank-`rank` tensor with `begin` and `end` on `axis` only. */
function padsFor(rank: number, axis: number, begin: number, end: number): number[] {
  const pads = new Array<number>(2 * rank).fill(0);
  pads[axis] = begin;
  pads[axis + rank] = end;
  return pads;
}
