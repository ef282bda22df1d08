import { add, expandToOutput } from '../helpers';
import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

function attrs(ctx: RuleContext): Record<string, number[] | number | string> {
  const out: Record<string, number[] | number | string> = {};
  for (const a of ctx.node.attributes) if (a.type === 'ints' || a.type === 'int' || a.type === 'string') out[a.name] = a.value;
  return out;
}

/**
 * ConvTranspose: linear in x and in w. Forward: dY = convT(dX, W) + convT(X, dW) + dB (K folded
 * into the batch for dX, into the output channels for dW). Reverse for x: the adjoint of a
 * transposed convolution is the convolution with the same weights, strides, pads and dilations.
 */
export const convTranspose: DerivativeRule = {
  opType: 'ConvTranspose',
  jvp: (ctx, [dx, dw, db]) => {
    const b = ctx.b;
    const [xName, wName] = ctx.node.inputs;
    const x = ctx.shape(xName);
    const w = ctx.shape(wName);
    const y = ctx.shape(ctx.node.outputs[0]);
    const spatial = x.length - 2;
    let d = dx
      ? b.op('Reshape', [b.op('ConvTranspose', [b.op('Reshape', [dx, b.int64([-1, ...x.slice(1)])]), wName], attrs(ctx)), b.int64([-1, ...y])])
      : undefined;
    if (dw) {
      // dW [K, Cin, Cout/G, ...] -> [Cin, K * Cout/G, ...]: K stacked inside each group's output
      // channels, so the grouping stays intact; the output [B, G, K, Cout/G, ...] has K moved to the front.
      const groups = ctx.int('group', 1);
      const perm = [1, 0, 2, ...Array.from({ length: spatial }, (_, i) => i + 3)];
      const kernels = b.op('Reshape', [b.op('Transpose', [dw], { perm }), b.int64([w[0], -1, ...w.slice(2)])]);
      const out = b.op('ConvTranspose', [xName, kernels], attrs(ctx)); // [B, G * K * Cout/G, ...]
      const split = b.op('Reshape', [out, b.int64([y[0], groups, -1, y[1] / groups, ...y.slice(2)])]); // [B, G, K, Cout/G, ...]
      const moved = b.op('Transpose', [split], { perm: [2, 0, 1, 3, ...Array.from({ length: spatial }, (_, i) => i + 4)] }); // [K, B, G, Cout/G, ...]
      d = add(b, d, b.op('Reshape', [moved, b.int64([-1, ...y])]));
    }
    if (db) d = add(b, d, b.op('Reshape', [db, b.int64([-1, 1, y[1], ...new Array(spatial).fill(1)])]));
    return [expandToOutput(b, d, dx || dw ? [y] : [], y)];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined, undefined];
    const b = ctx.b;
    const [xName, wName] = ctx.node.inputs;
    const x = ctx.shape(xName);
    const y = ctx.shape(ctx.node.outputs[0]);
    const a = attrs(ctx);
    if (a.auto_pad !== undefined && a.auto_pad !== 'NOTSET') throw new UnsupportedDerivative(ctx.node, 'auto_pad');
    if (a.output_shape !== undefined) throw new UnsupportedDerivative(ctx.node, 'output_shape');
    const convAttrs: Record<string, number[] | number> = {};
    for (const k of ['strides', 'pads', 'dilations', 'group', 'kernel_shape'] as const) if (a[k] !== undefined) convAttrs[k] = a[k] as number[] | number;
    const flat = b.op('Reshape', [gy, b.int64([-1, ...y.slice(1)])]);
    const gx = b.op('Conv', [flat, wName], convAttrs);
    // output_padding adds rows/columns the convolution does not see: crop to x's spatial size
    const cropped = b.op('Slice', [gx, b.int64(new Array(x.length - 2).fill(0)), b.int64(x.slice(2)), b.int64(Array.from({ length: x.length - 2 }, (_, i) => i + 2))]);
    const axes = [1, ...Array.from({ length: x.length - 2 }, (_, i) => i + 3)];
    return [
      ctx.needs(0) ? b.op('Reshape', [cropped, b.int64([-1, ...x])]) : undefined,
      ctx.needs(1) ? weightCotangent(ctx, gy, a) : undefined,
      ctx.node.inputs[2] && ctx.needs(2) ? b.op('ReduceSum', [gy, b.int64(axes)], { keepdims: 0 }) : undefined,
    ];
  },
};

/**
 * J^T u for the weights: gW[ci, o, k] = sum over batch and positions i of x[b, ci, i] gY[b, g o, s i + d k - pad],
 * a convolution of gY (K and output channels as batch, batch as channels) with x (channels as
 * output channels, batch as input channels), stride and dilation swapped, cropped to the kernel.
 * Grouped: the correlation is itself grouped, so only the pairs of one group are correlated.
 */
function weightCotangent(ctx: RuleContext, gy: string, a: Record<string, number[] | number | string>): string {
  const b = ctx.b;
  const [xName, wName] = ctx.node.inputs;
  const x = ctx.shape(xName);
  const w = ctx.shape(wName);
  const y = ctx.shape(ctx.node.outputs[0]);
  const spatial = x.length - 2;
  const ks = w.slice(2);
  const ones = new Array(spatial).fill(1);
  const strides = (a.strides as number[] | undefined) ?? ones;
  const dilations = (a.dilations as number[] | undefined) ?? ones;
  const pads = (a.pads as number[] | undefined) ?? new Array(2 * spatial).fill(0);
  const groups = (a.group as number | undefined) ?? 1;
  const cin = x[1];
  const cout = y[1];
  const rest = (from: number, n: number) => Array.from({ length: n }, (_, i) => i + from);
  const og = cout / groups;
  const cg = cin / groups;
  // gY's batch becomes the channels, group-major (group g's channels are its batch of gY's group-g
  // channels), so one convolution with group G correlates only the pairs of one group
  const byGroup = b.op('Reshape', [gy, b.int64([-1, y[0], groups, og, ...y.slice(2)])]); // [K, B, G, Og, ...]
  const input = b.op('Reshape', [
    b.op('Transpose', [byGroup], { perm: [0, 3, 2, 1, ...rest(4, spatial)] }), // [K, Og, G, B, ...]
    b.int64([-1, groups * y[0], ...y.slice(2)]),
  ]); // [K*Og, G*B, ...]
  const kernels = b.op('Transpose', [xName], { perm: [1, 0, ...rest(2, spatial)] }); // [Cin, B, ...] = [G*Cg, B, ...]
  const corr = b.op('Conv', [input, kernels], { strides: dilations, dilations: strides, pads, group: groups, kernel_shape: x.slice(2) }); // [K*Og, Cin, ...]
  const cropped = b.op('Slice', [corr, b.int64(new Array(spatial).fill(0)), b.int64(ks), b.int64(rest(2, spatial))]);
  const split = b.op('Reshape', [cropped, b.int64([-1, og, groups, cg, ...ks])]); // [K, Og, G, Cg, ...]
  const ordered = b.op('Transpose', [split], { perm: [0, 2, 3, 1, ...rest(4, spatial)] }); // [K, G, Cg, Og, ...]
  return b.op('Reshape', [ordered, b.int64([-1, cin, og, ...ks])]);
}
