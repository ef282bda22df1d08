import { DataType } from '../../onnx/types';
import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

/** Above this many entries (output length x input length) an axis's interpolation matrix is refused. */
export const RESIZE_MAX_MATRIX = 1 << 22;

/** How one output coordinate maps back to the input along one axis (ONNX Resize). */
interface AxisResize {
  mode: string;
  coordinate: string;
  nearest: string;
  cubicA: number;
  excludeOutside: boolean;
  /** Downsampling rounds up in the nearest mode of opset < 11 (onnxruntime's 'simple' rounding). */
  legacy: boolean;
}

/** x_original of output coordinate `o` (ONNX's coordinate_transformation_mode). */
function original(r: AxisResize, o: number, outLen: number, inLen: number, scale: number, roi: [number, number]): number {
  switch (r.coordinate) {
    case 'half_pixel': return (o + 0.5) / scale - 0.5;
    case 'half_pixel_symmetric': {
      const adjustment = outLen / (scale * inLen);
      const offset = (inLen / 2) * (1 - adjustment);
      return offset + (o + 0.5) / scale - 0.5;
    }
    case 'pytorch_half_pixel': return outLen > 1 ? (o + 0.5) / scale - 0.5 : 0;
    case 'align_corners': return outLen === 1 ? 0 : (o * (inLen - 1)) / (outLen - 1);
    case 'asymmetric': return o / scale;
    case 'tf_crop_and_resize': return outLen > 1 ? roi[0] * (inLen - 1) + (o * (roi[1] - roi[0]) * (inLen - 1)) / (outLen - 1) : 0.5 * (roi[0] + roi[1]) * (inLen - 1);
    default: throw new Error(`coordinate_transformation_mode '${r.coordinate}'`);
  }
}

/** The nearest input index of x_original (ONNX's nearest_mode). */
function nearestIndex(r: AxisResize, x: number, scale: number): number {
  if (r.legacy) return scale < 1 ? Math.ceil(x) : Math.trunc(x);
  switch (r.nearest) {
    case 'round_prefer_floor': return x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
    case 'round_prefer_ceil': return Math.round(x);
    case 'floor': return Math.floor(x);
    case 'ceil': return Math.ceil(x);
    default: throw new Error(`nearest_mode '${r.nearest}'`);
  }
}

/** Cubic convolution weights of the 4 neighbours floor(x) - 1 .. floor(x) + 2 at fraction t. */
function cubicWeights(a: number, t: number): number[] {
  const far = (s: number) => ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
  const near = (s: number) => ((a + 2) * s - (a + 3)) * s * s + 1;
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/** The interpolation matrix of one axis, row-major [outLen, inLen]. */
function axisMatrix(r: AxisResize, outLen: number, inLen: number, scale: number, roi: [number, number]): Float64Array {
  const m = new Float64Array(outLen * inLen);
  const clamp = (i: number) => Math.min(Math.max(i, 0), inLen - 1);
  for (let o = 0; o < outLen; o++) {
    const x = original(r, o, outLen, inLen, scale, roi);
    if (r.mode === 'nearest') {
      m[o * inLen + clamp(nearestIndex(r, x, scale))] = 1;
    } else if (r.mode === 'linear') {
      const xc = Math.min(Math.max(x, 0), inLen - 1);
      const lo = Math.floor(xc);
      const t = xc - lo;
      m[o * inLen + clamp(lo)] += 1 - t;
      m[o * inLen + clamp(lo + 1)] += t;
    } else {
      const lo = Math.floor(x);
      const w = cubicWeights(r.cubicA, x - lo);
      const taps = w.map((wk, k) => ({ index: lo - 1 + k, weight: wk }));
      const inside = taps.filter((tap) => !r.excludeOutside || (tap.index >= 0 && tap.index < inLen));
      const total = inside.reduce((s, tap) => s + tap.weight, 0);
      for (const tap of inside) m[o * inLen + clamp(tap.index)] += r.excludeOutside ? tap.weight / total : tap.weight;
    }
  }
  return m;
}

/** The node's scale per axis and its interpolation settings (Resize opset 10+, Upsample opset 7 to 9). */
function settings(ctx: RuleContext): { r: AxisResize; scales: number[]; roi: Array<[number, number]> } {
  const x = ctx.shape(ctx.node.inputs[0]);
  const y = ctx.shape(ctx.node.outputs[0]);
  const rank = x.length;
  const legacy = ctx.node.opType === 'Upsample' || ctx.opset < 11;
  const rawMode = ctx.str('mode', 'nearest');
  const mode = rawMode === 'bilinear' || rawMode === 'trilinear' ? 'linear' : rawMode;
  if (!['nearest', 'linear', 'cubic'].includes(mode)) throw new UnsupportedDerivative(ctx.node, `mode '${rawMode}'`);
  if (ctx.int('antialias', 0) !== 0) throw new UnsupportedDerivative(ctx.node, 'antialiased resizing');
  const known = (name: string | undefined) => (name ? ctx.constant(name) : undefined);
  let scales: number[] | undefined;
  const roi: Array<[number, number]> = x.map(() => [0, 1]);
  if (ctx.node.opType === 'Upsample' && ctx.opset < 9) {
    const attr = ctx.node.attributes.find((a) => a.name === 'scales');
    scales = attr?.type === 'floats' ? attr.value : undefined;
  } else if (legacy) scales = [...(known(ctx.node.inputs[1]) ?? [])];
  else {
    const [, roiName, scalesName, sizesName] = ctx.node.inputs;
    const axesAttr = ctx.ints('axes');
    const axes = axesAttr ? axesAttr.map((a) => (a < 0 ? a + rank : a)) : x.map((_, i) => i);
    const given = known(scalesName);
    const sizes = known(sizesName);
    const roiValues = known(roiName);
    if (roiValues && roiValues.length === 2 * axes.length) axes.forEach((a, i) => (roi[a] = [roiValues[i], roiValues[i + axes.length]]));
    if (given && given.length > 0) {
      scales = x.map(() => 1);
      axes.forEach((a, i) => ((scales as number[])[a] = given[i]));
    } else if (sizes) {
      if (ctx.str('keep_aspect_ratio_policy', 'stretch') !== 'stretch') throw new UnsupportedDerivative(ctx.node, 'keep_aspect_ratio_policy');
      scales = x.map((d, i) => y[i] / d);
    }
  }
  if (!scales || scales.length !== rank) throw new UnsupportedDerivative(ctx.node, 'the scales or sizes must be known');
  const coordinate = legacy ? 'asymmetric' : ctx.str('coordinate_transformation_mode', 'half_pixel');
  if (coordinate === 'tf_crop_and_resize') throw new UnsupportedDerivative(ctx.node, 'tf_crop_and_resize (extrapolated values)');
  const r: AxisResize = {
    mode,
    coordinate,
    nearest: ctx.str('nearest_mode', 'round_prefer_floor'),
    cubicA: ctx.float('cubic_coeff_a', -0.75),
    excludeOutside: ctx.int('exclude_outside', 0) === 1,
    legacy,
  };
  return { r, scales, roi };
}

/** Applies each non-identity axis matrix (transposed for the reverse) to a batched tensor of shape [K, ...from]. */
function apply(ctx: RuleContext, t: string, transpose: boolean): string {
  const b = ctx.b;
  const x = ctx.shape(ctx.node.inputs[0]);
  const y = ctx.shape(ctx.node.outputs[0]);
  const { r, scales, roi } = settings(ctx);
  const dtype = ctx.dtype(ctx.node.inputs[0]) === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
  const rank = x.length;
  let out = t;
  for (let a = 0; a < rank; a++) {
    if (x[a] === y[a] && scales[a] === 1) continue;
    if (x[a] * y[a] > RESIZE_MAX_MATRIX) throw new UnsupportedDerivative(ctx.node, `axis ${a} resized from ${x[a]} to ${y[a]} is too long for an interpolation matrix`);
    let m: Float64Array;
    try {
      m = axisMatrix(r, y[a], x[a], scales[a], roi[a]);
    } catch (e) {
      throw new UnsupportedDerivative(ctx.node, e instanceof Error ? e.message : String(e));
    }
    // out axis a+1 (batched) becomes the last axis, is multiplied, and goes back
    const [rows, cols] = transpose ? [x[a], y[a]] : [y[a], x[a]];
    const matT = new Float64Array(rows * cols); // [cols, rows]: the matrix applied on the right
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) matT[j * rows + i] = transpose ? m[j * x[a] + i] : m[i * x[a] + j];
    const perm = Array.from({ length: rank + 1 }, (_, i) => i);
    perm[a + 1] = rank;
    perm[rank] = a + 1;
    const last = a === rank - 1;
    const moved = last ? out : b.op('Transpose', [out], { perm });
    const product = b.op('MatMul', [moved, b.tensor([cols, rows], matT, dtype)]);
    out = last ? product : b.op('Transpose', [product], { perm });
  }
  return out;
}

/**
 * Resize and Upsample (nearest, linear and cubic; every coordinate transformation): linear in X
 * with weights that depend only on the shapes, and separable, so each resized axis is one
 * interpolation matrix built here from ONNX's formulas. Forward: the matrices applied to the
 * tangent; reverse: their transposes (nearest's many-to-one copies add up).
 */
function resizeRule(opType: string): DerivativeRule {
  return {
    opType,
    jvp: (ctx, [dx]) => [dx ? apply(ctx, dx, false) : undefined],
    vjp: (ctx, [gy]) => [gy ? apply(ctx, gy, true) : undefined, ...ctx.node.inputs.slice(1).map(() => undefined)],
  };
}

/** Resize (opset 10+). */
export const resize = resizeRule('Resize');
/** Upsample (opset 7 to 9). */
export const upsample = resizeRule('Upsample');
