import { DoctorError } from '../errors';
import type { NdArray } from '../ndarray';
import { sizeOf, toNumbers } from '../ndarray';
import type { Rng } from '../inputs/rng';

/** The scalar losses the gradient is taken of (README "Losses"); `auto` picks one from the model's output. */
export type LossKind = 'auto' | 'sum' | 'mse' | 'ce' | 'nll';

/** How the per-prediction losses combine: their mean (PyTorch's default, what learning rates are quoted for) or their sum. */
export type LossReduction = 'mean' | 'sum';

/** A loss as it is computed: its kind, reduction and, when it was picked for the user, why. */
export interface Loss {
  kind: Exclude<LossKind, 'auto'>;
  reduction: LossReduction;
  /** Why this loss, when `auto` chose it or a requested one was refused. */
  note?: string;
}

/** A loss value and its gradient with respect to the model's first output. */
export interface LossGradient {
  value: number;
  gradient: Float64Array;
  /** For 'ce' and 'nll': the labels used, and where they came from. */
  labels?: number[];
  labelSource?: string;
}

/** Ops whose output is a probability distribution over its last (or given) axis. */
const PROBABILITIES = new Set(['Softmax']);
const LOG_PROBABILITIES = new Set(['LogSoftmax']);

/**
 * The loss for the first output y, produced by `producer` (its op type, when a node makes it).
 * `auto`: class scores of shape [batch, classes] get cross-entropy on pseudo-labels, probabilities
 * (a Softmax output) the negative log-likelihood of a pseudo-label, log-probabilities (LogSoftmax)
 * the same on their log, anything else the sum of the output. A requested `sum` of probabilities
 * is a constant (each row sums to 1), so no gradient flows: refused, saying which loss carries one.
 */
export function resolveLoss(requested: LossKind, reduction: LossReduction, y: NdArray, producer: string | undefined): Loss {
  const shape = `[${y.dims.join(', ')}]`;
  const probabilities = producer !== undefined && PROBABILITIES.has(producer);
  const logProbabilities = producer !== undefined && LOG_PROBABILITIES.has(producer);
  if (requested === 'sum' && probabilities) {
    throw new DoctorError('bad-input', `the loss 'sum' of the model's output is a constant: the output ${shape} comes from a Softmax, whose rows each sum to 1, so no gradient would flow. Use --loss auto or nll (the negative log-likelihood of a label), or ce on the logits before the Softmax (README, "Losses")`);
  }
  if (requested !== 'auto') return { kind: requested, reduction };
  if (probabilities) return { kind: 'nll', reduction, note: `auto: the output ${shape} is a Softmax's probabilities, so the loss is the negative log-likelihood of pseudo-labels (the sum of probabilities would be a constant)` };
  if (logProbabilities) return { kind: 'ce', reduction, note: `auto: the output ${shape} is a LogSoftmax's log-probabilities, so the loss is cross-entropy on pseudo-labels` };
  if (y.dims.length === 2 && y.dims[1] >= 2) return { kind: 'ce', reduction, note: `auto: the output ${shape} looks like class scores [batch, classes], so the loss is softmax cross-entropy on pseudo-labels, as a classifier is trained` };
  return { kind: 'sum', reduction, note: `auto: the output ${shape} is not class scores, so the loss is the sum of the output` };
}

/** The loss of options whose `auto` was already resolved (the curvature runs after the gradient flow chose it). */
export function resolvedLoss(options: { loss: LossKind; lossReduction?: LossReduction }): Loss {
  if (options.loss === 'auto') throw new Error('the loss must be resolved before the curvature');
  return { kind: options.loss, reduction: options.lossReduction ?? 'mean' };
}

/**
 * The loss and dL/dy for the first output y. sum: L = sum(y), dL/dy = 1. mse: L = ||y||^2 / 2,
 * dL/dy = y. ce: softmax cross-entropy over axis 1 of y ([batch, classes, ...]), dL/dy =
 * softmax(y) - onehot(label). nll: y holds probabilities over axis 1, L = -log y[label], dL/dy =
 * -onehot / y. Labels are given, or pseudo-labels drawn uniformly from the classes with the run's
 * seed. With the `mean` reduction the loss is divided by the predictions it sums (the batch for
 * sum and mse, batch x positions for ce and nll), as PyTorch's losses do.
 */
export function lossGradient(loss: Loss, y: NdArray, rng: Rng, labels?: number[]): LossGradient {
  const v = toNumbers(y);
  const batch = y.dims[0] ?? 1;
  const perBatch = loss.reduction === 'mean' ? 1 / Math.max(batch, 1) : 1;
  if (loss.kind === 'sum') return { value: v.reduce((a, b) => a + b, 0) * perBatch, gradient: new Float64Array(v.length).fill(perBatch) };
  if (loss.kind === 'mse') return { value: (v.reduce((a, b) => a + b * b, 0) / 2) * perBatch, gradient: Float64Array.from(v, (x) => x * perBatch) };
  if (y.dims.length < 2) throw new DoctorError('bad-input', `the '${loss.kind}' loss needs ${loss.kind === 'ce' ? 'logits' : 'probabilities'} of shape [batch, classes, ...]; the first output has shape [${y.dims.join(', ')}]`);
  const classes = y.dims[1];
  const inner = sizeOf(y.dims.slice(2));
  const rows = batch * inner;
  const given = labels !== undefined;
  const used = labels ?? Array.from({ length: rows }, () => rng.int(0, classes));
  if (used.length !== rows) throw new DoctorError('bad-input', `${used.length} labels were given for ${rows} predictions (batch ${batch}${inner > 1 ? ` x ${inner} positions` : ''})`);
  if (used.some((l) => !Number.isInteger(l) || l < 0 || l >= classes)) throw new DoctorError('bad-input', `labels must be integers in [0, ${classes})`);
  const perRow = loss.reduction === 'mean' ? 1 / rows : 1;
  const g = new Float64Array(v.length);
  let value = 0;
  for (let b = 0; b < batch; b++) {
    for (let p = 0; p < inner; p++) {
      const at = (c: number) => (b * classes + c) * inner + p;
      const label = used[b * inner + p];
      if (loss.kind === 'nll') {
        const q = v[at(label)];
        value -= Math.log(q);
        g[at(label)] = -perRow / q;
        continue;
      }
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, v[at(c)]);
      let z = 0;
      for (let c = 0; c < classes; c++) z += Math.exp(v[at(c)] - max);
      value += Math.log(z) + max - v[at(label)];
      for (let c = 0; c < classes; c++) g[at(c)] = perRow * (Math.exp(v[at(c)] - max) / z - (c === label ? 1 : 0));
    }
  }
  return { value: value * perRow, gradient: g, labels: used, labelSource: given ? 'given' : 'pseudo-labels drawn uniformly with the seed' };
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
