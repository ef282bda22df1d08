import { add } from '../helpers';
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
      if (ctx.int('group', 1) !== 1) throw new UnsupportedDerivative(ctx.node, 'weight tangents of grouped transposed convolutions are not covered');
      // dW [K, Cin, Cout, ...] -> [Cin, K * Cout, ...]: K stacked along the output channels
      const perm = [1, 0, 2, ...Array.from({ length: spatial }, (_, i) => i + 3)];
      const kernels = b.op('Reshape', [b.op('Transpose', [dw], { perm }), b.int64([w[0], -1, ...w.slice(2)])]);
      const out = b.op('ConvTranspose', [xName, kernels], attrs(ctx)); // [B, K * Cout, ...]
      const split = b.op('Reshape', [out, b.int64([y[0], -1, y[1], ...y.slice(2)])]);
      d = add(b, d, b.op('Transpose', [split], { perm: [1, 0, 2, ...Array.from({ length: spatial }, (_, i) => i + 3)] }));
    }
    if (db) d = add(b, d, b.op('Reshape', [db, b.int64([-1, 1, y[1], ...new Array(spatial).fill(1)])]));
    return [d];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined, undefined, undefined];
    if (ctx.needs(1)) throw new UnsupportedDerivative(ctx.node, 'weight gradients of transposed convolutions are not covered');
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
      b.op('Reshape', [cropped, b.int64([-1, ...x])]),
      undefined,
      ctx.node.inputs[2] && ctx.needs(2) ? b.op('ReduceSum', [gy, b.int64(axes)], { keepdims: 0 }) : undefined,
    ];
  },
};
