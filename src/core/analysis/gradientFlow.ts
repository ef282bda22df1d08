import { DoctorError } from '../errors';
import type { NdArray } from '../ndarray';
import { sizeOf, toNumbers } from '../ndarray';
import type { Rng } from '../inputs/rng';

/** The scalar losses the gradient is taken of (README "Losses"). */
export type LossKind = 'sum' | 'mse' | 'ce';

/** A loss value and its gradient with respect to the model's first output. */
export interface LossGradient {
  value: number;
  gradient: Float64Array;
  /** For 'ce': the labels used, and where they came from. */
  labels?: number[];
  labelSource?: string;
}

/**
 * The loss and dL/dy for the first output y. sum: L = sum(y), dL/dy = 1. mse: L = ||y||^2 / 2,
 * dL/dy = y. ce: softmax cross-entropy over axis 1 of y ([batch, classes, ...]), summed over the
 * batch, dL/dy = softmax(y) - onehot(label); labels are given, or pseudo-labels drawn uniformly
 * from the classes with the run's seed.
 */
export function lossGradient(kind: LossKind, y: NdArray, rng: Rng, labels?: number[]): LossGradient {
  const v = toNumbers(y);
  if (kind === 'sum') return { value: v.reduce((a, b) => a + b, 0), gradient: new Float64Array(v.length).fill(1) };
  if (kind === 'mse') return { value: v.reduce((a, b) => a + b * b, 0) / 2, gradient: Float64Array.from(v) };
  if (y.dims.length < 2) throw new DoctorError('bad-input', `the 'ce' loss needs logits of shape [batch, classes, ...]; the first output has shape [${y.dims.join(', ')}]`);
  const [batch, classes] = y.dims;
  const inner = sizeOf(y.dims.slice(2));
  const rows = batch * inner;
  const given = labels !== undefined;
  const used = labels ?? Array.from({ length: rows }, () => rng.int(0, classes));
  if (used.length !== rows) throw new DoctorError('bad-input', `${used.length} labels were given for ${rows} predictions (batch ${batch}${inner > 1 ? ` x ${inner} positions` : ''})`);
  if (used.some((l) => !Number.isInteger(l) || l < 0 || l >= classes)) throw new DoctorError('bad-input', `labels must be integers in [0, ${classes})`);
  const g = new Float64Array(v.length);
  let value = 0;
  for (let b = 0; b < batch; b++) {
    for (let p = 0; p < inner; p++) {
      const at = (c: number) => (b * classes + c) * inner + p;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, v[at(c)]);
      let z = 0;
      for (let c = 0; c < classes; c++) z += Math.exp(v[at(c)] - max);
      const label = used[b * inner + p];
      value += Math.log(z) + max - v[at(label)];
      for (let c = 0; c < classes; c++) g[at(c)] = Math.exp(v[at(c)] - max) / z - (c === label ? 1 : 0);
    }
  }
  return { value, gradient: g, labels: used, labelSource: given ? 'given' : 'pseudo-labels drawn uniformly with the seed' };
}

/** Euclidean norm. */
export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** Median of the finite values, or null when there are none. */
export function median(values: Array<number | null>): number | null {
  const xs = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}
