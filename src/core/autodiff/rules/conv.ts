import { add, expandToOutput } from '../helpers';
import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

interface ConvGeometry {
  x: number[];
  w: number[];
  y: number[];
  spatial: number;
  strides: number[];
  dilations: number[];
  /** [begin..., end...] as ONNX writes pads. */
  pads: number[];
  group: number;
}

/** The convolution's geometry, with auto_pad resolved into explicit pads from the static shapes. */
function geometry(ctx: RuleContext): ConvGeometry {
  const [xName, wName] = ctx.node.inputs;
  const x = ctx.shape(xName);
  const w = ctx.shape(wName);
  const y = ctx.shape(ctx.node.outputs[0]);
  const spatial = x.length - 2;
  const ones = new Array(spatial).fill(1);
  const strides = ctx.ints('strides') ?? ones;
  const dilations = ctx.ints('dilations') ?? ones;
  let pads = ctx.ints('pads') ?? new Array(2 * spatial).fill(0);
  const autoPad = ctx.str('auto_pad', 'NOTSET');
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = new Array(2 * spatial).fill(0);
    for (let i = 0; i < spatial; i++) {
      const total = Math.max(0, (y[i + 2] - 1) * strides[i] + (w[i + 2] - 1) * dilations[i] + 1 - x[i + 2]);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + spatial] = total - pads[i];
    }
  } else if (autoPad === 'VALID') pads = new Array(2 * spatial).fill(0);
  return { x, w, y, spatial, strides, dilations, pads, group: ctx.int('group', 1) };
}

function convAttrs(g: ConvGeometry): Record<string, number[] | number> {
  return { strides: g.strides, dilations: g.dilations, pads: g.pads, group: g.group, kernel_shape: g.w.slice(2) };
}

/** Runs `op` on a batched [K, B, ...] tensor by folding K into the batch axis. */
function folded(ctx: RuleContext, t: string, inner: number[], run: (flat: string) => string, outInner: number[]): string {
  const flat = ctx.b.op('Reshape', [t, ctx.b.int64([-1, ...inner.slice(1)])]);
  return ctx.b.op('Reshape', [run(flat), ctx.b.int64([-1, ...outInner])]);
}

/** J^T u for the convolution's input: a transposed convolution with the same weights. */
function inputCotangent(ctx: RuleContext, g: ConvGeometry, gy: string): string {
  const wName = ctx.node.inputs[1];
  const outputPadding = g.x.slice(2).map((size, i) => {
    const k = g.w[i + 2];
    const produced = g.strides[i] * (g.y[i + 2] - 1) + (k - 1) * g.dilations[i] + 1 - g.pads[i] - g.pads[i + g.spatial];
    return size - produced;
  });
  if (outputPadding.some((p, i) => p < 0 || p >= Math.max(g.strides[i], g.dilations[i]))) {
    throw new UnsupportedDerivative(ctx.node, `cannot express the input gradient as a ConvTranspose (output padding ${outputPadding})`);
  }
  return folded(ctx, gy, [g.y[0], ...g.y.slice(1)], (flat) =>
    ctx.b.op('ConvTranspose', [flat, wName], { ...convAttrs(g), output_padding: outputPadding }), g.x);
}

/**
 * J^T u for the weights: gW[o, c, i] = sum over batch and positions of gY[b, o, p] x[b, c, s p + d i - pad],
 * a convolution of x (channels as batch) with gY (batch as channels), stride and dilation swapped.
 */
function weightCotangent(ctx: RuleContext, g: ConvGeometry, gy: string): string {
  const b = ctx.b;
  const xName = ctx.node.inputs[0];
  const perm = (rank: number, first: number[]) => [...first, ...Array.from({ length: rank - first.length }, (_, i) => i + first.length)];
  const rank = g.x.length;
  const ks = g.w.slice(2);
  const sp = g.y.slice(2);
  const rest = (from: number) => Array.from({ length: g.spatial }, (_, i) => i + from);
  const groups = g.group;
  const c = g.x[1];
  const o = g.w[0];
  const cg = c / groups;
  const og = o / groups;
  // Channels of x become the batch and the batch becomes the channels, so one convolution correlates
  // x with gY; with groups, the batch of each group's channels becomes that group's input channels
  // (group G again), so only the pairs of one group are correlated: G times fewer products than all
  // pairs (C times fewer for a depthwise convolution).
  const xT = groups === 1
    ? b.op('Transpose', [xName], { perm: perm(rank, [1, 0]) }) // [C, B, ...]
    : b.op('Reshape', [
      b.op('Transpose', [b.op('Reshape', [xName, b.int64([g.x[0], groups, cg, ...g.x.slice(2)])])], { perm: [2, 1, 0, ...rest(3)] }), // [Cg, G, B, ...]
      b.int64([cg, groups * g.x[0], ...g.x.slice(2)]),
    ]); // [Cg, G*B, ...]
  const byGroup = b.op('Reshape', [gy, b.int64([-1, g.y[0], groups, og, ...sp])]); // [K, B, G, Og, ...]
  const kernels = b.op('Reshape', [
    b.op('Transpose', [byGroup], { perm: [2, 0, 3, 1, ...rest(4)] }), // [G, K, Og, B, ...]
    b.int64([-1, g.y[0], ...sp]),
  ]); // [G*K*Og, B, ...]
  const corr = b.op('Conv', [xT, kernels], { strides: g.dilations, dilations: g.strides, pads: g.pads, group: groups, kernel_shape: sp }); // [Cg, G*K*Og, ...]
  const cropped = b.op('Slice', [corr, b.int64(new Array(g.spatial).fill(0)), b.int64(ks), b.int64(ks.map((_, i) => i + 2))]);
  const split = b.op('Reshape', [cropped, b.int64([cg, groups, -1, og, ...ks])]); // [Cg, G, K, Og, ...]
  const ordered = b.op('Transpose', [split], { perm: [2, 1, 3, 0, ...rest(4)] }); // [K, G, Og, Cg, ...]
  return b.op('Reshape', [ordered, b.int64([-1, o, cg, ...ks])]);
}

/** Conv: linear in x and in w. Forward: dY = conv(dX, W) + conv(X, dW) + dB. */
export const conv: DerivativeRule = {
  opType: 'Conv',
  jvp: (ctx, [dx, dw, db]) => {
    const g = geometry(ctx);
    const [xName, wName] = ctx.node.inputs;
    let d = dx ? folded(ctx, dx, g.x, (flat) => ctx.b.op('Conv', [flat, wName], convAttrs(g)), g.y) : undefined;
    if (dw) {
      // K weight tangents as one convolution: kernels ordered (group, K, out channel of the group)
      // so that grouping stays intact, then the K axis moved back to the front.
      const b = ctx.b;
      const groups = g.group;
      const og = g.w[0] / groups;
      const sp = g.w.slice(2);
      const byGroup = b.op('Reshape', [dw, b.int64([-1, groups, og, ...g.w.slice(1)])]); // [K, G, Og, Cg, ...]
      const grouped = b.op('Transpose', [byGroup], { perm: [1, 0, 2, ...Array.from({ length: sp.length + 1 }, (_, i) => i + 3)] }); // [G, K, Og, Cg, ...]
      const kernels = b.op('Reshape', [grouped, b.int64([-1, ...g.w.slice(1)])]); // [G*K*Og, Cg, ...]
      const out = b.op('Conv', [xName, kernels], convAttrs(g)); // [B, G*K*Og, ...]
      const split = b.op('Reshape', [out, b.int64([g.y[0], groups, -1, og, ...g.y.slice(2)])]); // [B, G, K, Og, ...]
      const moved = b.op('Transpose', [split], { perm: [2, 0, 1, 3, ...Array.from({ length: g.spatial }, (_, i) => i + 4)] }); // [K, B, G, Og, ...]
      d = add(b, d, b.op('Reshape', [moved, b.int64([-1, ...g.y])]));
    }
    if (db) d = add(ctx.b, d, ctx.b.op('Reshape', [db, ctx.b.int64([-1, 1, g.y[1], ...new Array(g.spatial).fill(1)])]));
    return [expandToOutput(ctx.b, d, dx || dw ? [g.y] : [], g.y)];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined, undefined];
    const g = geometry(ctx);
    const hasBias = Boolean(ctx.node.inputs[2]);
    const axes = [1, ...Array.from({ length: g.spatial }, (_, i) => i + 3)];
    return [
      ctx.needs(0) ? inputCotangent(ctx, g, gy) : undefined,
      ctx.needs(1) ? weightCotangent(ctx, g, gy) : undefined,
      hasBias && ctx.needs(2) ? ctx.b.op('ReduceSum', [gy, ctx.b.int64(axes)], { keepdims: 0 }) : undefined,
    ];
  },
};
