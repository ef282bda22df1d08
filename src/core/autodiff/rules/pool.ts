import { DataType } from '../../onnx/types';
import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

const sizeOf = (d: number[]) => d.reduce((a, b) => a * b, 1);

/**
 * MaxPool: each output copies the input element at its argmax. The derivative model re-runs the
 * pooling on the primal input for the argmax indices (flat, over the whole tensor); the tangent is
 * gathered there, and the cotangent scatter-added back.
 */
export const maxPool: DerivativeRule = {
  opType: 'MaxPool',
  jvp: (ctx, [dx]) => {
    if (!dx) return [undefined, undefined];
    const { idx, x, y } = argmax(ctx);
    const b = ctx.b;
    const flat = b.op('Reshape', [dx, b.int64([-1, sizeOf(x)])]);
    const picked = b.op('Gather', [flat, b.op('Reshape', [idx, b.int64([sizeOf(y)])])], { axis: 1 });
    return [b.op('Reshape', [picked, b.int64([-1, ...y])]), undefined];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined];
    const { idx, x, y } = argmax(ctx);
    const b = ctx.b;
    const g = b.op('Reshape', [gy, b.int64([-1, sizeOf(y)])]); // [K, M]
    const k = b.op('Slice', [b.op('Shape', [g]), b.int64([0]), b.int64([1])]);
    const indices = b.op('Expand', [b.op('Reshape', [idx, b.int64([1, sizeOf(y)])]), b.op('Concat', [k, b.int64([sizeOf(y)])], { axis: 0 })]);
    const zeros = b.op('Mul', [b.op('Reshape', [b.op('Slice', [g, b.int64([0]), b.int64([1]), b.int64([1])]), b.int64([-1, 1])]), b.tensor([1, sizeOf(x)], new Array(sizeOf(x)).fill(0), ctx.dtype(ctx.node.inputs[0]) === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT)]);
    const gx = b.op('ScatterElements', [zeros, indices, g], { axis: 1, reduction: 'add' });
    return [b.op('Reshape', [gx, b.int64([-1, ...x])])];
  },
};

function argmax(ctx: RuleContext): { idx: string; x: number[]; y: number[] } {
  if (ctx.int('storage_order', 0) !== 0) throw new UnsupportedDerivative(ctx.node, 'column-major storage_order');
  const x = ctx.shape(ctx.node.inputs[0]);
  const y = ctx.shape(ctx.node.outputs[0]);
  const attrs: Record<string, number[] | number | string> = {};
  for (const a of ctx.node.attributes) {
    if (a.type === 'ints' || a.type === 'int' || a.type === 'string') attrs[a.name] = a.value;
  }
  const [, idx] = ctx.b.opMulti('MaxPool', [ctx.node.inputs[0]], 2, attrs);
  return { idx, x, y };
}

/**
 * AveragePool: linear. The tangent is pooled the same way (K folded into the batch); the cotangent
 * is a depthwise transposed convolution with the uniform 1 / kernel-size weights, each output's
 * cotangent first scaled by kernel size / elements covered when padding is excluded from the average.
 */
export const averagePool: DerivativeRule = {
  opType: 'AveragePool',
  jvp: (ctx, [dx]) => {
    if (!dx) return [undefined];
    const b = ctx.b;
    const x = ctx.shape(ctx.node.inputs[0]);
    const y = ctx.shape(ctx.node.outputs[0]);
    const attrs: Record<string, number[] | number | string> = {};
    for (const a of ctx.node.attributes) if (a.type === 'ints' || a.type === 'int' || a.type === 'string') attrs[a.name] = a.value;
    const flat = b.op('Reshape', [dx, b.int64([-1, ...x.slice(1)])]);
    return [b.op('Reshape', [b.op('AveragePool', [flat], attrs), b.int64([-1, ...y])])];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return [undefined];
    const b = ctx.b;
    const x = ctx.shape(ctx.node.inputs[0]);
    const y = ctx.shape(ctx.node.outputs[0]);
    const kernel = ctx.ints('kernel_shape') ?? [];
    const spatial = kernel.length;
    const strides = ctx.ints('strides') ?? new Array(spatial).fill(1);
    const pads = ctx.ints('pads') ?? new Array(2 * spatial).fill(0);
    if (ctx.str('auto_pad', 'NOTSET') !== 'NOTSET' || ctx.int('ceil_mode', 0) === 1) throw new UnsupportedDerivative(ctx.node, 'auto_pad or ceil_mode');
    if ((ctx.ints('dilations') ?? []).some((d) => d !== 1)) throw new UnsupportedDerivative(ctx.node, 'dilated pooling');
    const channels = x[1];
    const ks = sizeOf(kernel);
    const dtype = ctx.dtype(ctx.node.inputs[0]) === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
    const w = b.tensor([channels, 1, ...kernel], new Array(channels * ks).fill(1 / ks), dtype);
    const outputPadding = x.slice(2).map((size, i) => size - (strides[i] * (y[i + 2] - 1) + kernel[i] - pads[i] - pads[i + spatial]));
    let flat = b.op('Reshape', [gy, b.int64([-1, ...y.slice(1)])]);
    if (pads.some((p) => p > 0) && ctx.int('count_include_pad', 0) === 0) {
      // each output divides by the number of input elements its window covers, not the kernel size
      const scale = windowCounts(x.slice(2), y.slice(2), kernel, strides, pads).map((c) => ks / c);
      flat = b.op('Mul', [flat, b.tensor(y.slice(2), scale, dtype)]);
    }
    const gx = b.op('ConvTranspose', [flat, w], { strides, pads, group: channels, kernel_shape: kernel, output_padding: outputPadding });
    return [b.op('Reshape', [gx, b.int64([-1, ...x])])];
  },
};

/** The number of input elements (padding excluded) each output window covers, row-major over the output's spatial axes. */
function windowCounts(x: number[], y: number[], kernel: number[], strides: number[], pads: number[]): number[] {
  const perAxis = y.map((n, i) => Array.from({ length: n }, (_, o) => {
    const from = o * strides[i] - pads[i];
    return Math.min(from + kernel[i], x[i]) - Math.max(from, 0);
  }));
  let counts = [1];
  for (const axis of perAxis) counts = counts.flatMap((c) => axis.map((a) => c * a));
  return counts;
}
