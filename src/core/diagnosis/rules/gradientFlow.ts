import type { Finding, LayerReport, Remedy } from '../../report/types';
import { activationOf, fmt, isOutputLayer, schemeFor, weightOf, type DiagnosisContext, type Rule } from '../rule';

/** Per-layer gradient ratios dL/d(input) over dL/d(output), in depth order, where both are known. */
function ratios(layers: LayerReport[]): Array<{ layer: LayerReport; log: number }> {
  return layers
    .filter((l) => (l.gradient.inputNorm ?? 0) > 0 && (l.gradient.outputNorm ?? 0) > 0)
    .map((l) => ({ layer: l, log: Math.log(l.gradient.inputNorm! / l.gradient.outputNorm!) }));
}

/** The contiguous run of layers whose log ratios sum most negative (sign -1) or most positive (+1). */
function steepestRun(r: Array<{ layer: LayerReport; log: number }>, sign: 1 | -1): { from: number; to: number; sum: number } | undefined {
  let best: { from: number; to: number; sum: number } | undefined;
  let start = 0;
  let acc = 0;
  for (let i = 0; i < r.length; i++) {
    if (acc <= 0) {
      start = i;
      acc = 0;
    }
    acc += sign * r[i].log;
    if (!best || acc > best.sum) best = { from: start, to: i, sum: acc };
  }
  return best && best.sum > 0 ? { ...best, sum: sign * best.sum } : undefined;
}

/** The overall factor: gradient reaching the first layer's input over the gradient leaving the last layer. */
function overall(layers: LayerReport[]): { factor: number; first: LayerReport; last: LayerReport } | undefined {
  const withIn = layers.filter((l) => (l.gradient.inputNorm ?? 0) > 0);
  const withOut = layers.filter((l) => (l.gradient.outputNorm ?? 0) > 0);
  if (withIn.length < 2 || withOut.length < 2) return undefined;
  const first = withIn[0];
  const last = withOut[withOut.length - 1];
  if (first === last) return undefined;
  return { factor: first.gradient.inputNorm! / last.gradient.outputNorm!, first, last };
}

function describeRun(run: Array<{ layer: LayerReport; log: number }>): string {
  const shown = run.slice(0, 6).map((x) => `${x.layer.name} ${fmt(Math.exp(x.log))}x`);
  return shown.join(', ') + (run.length > 6 ? `, ... (${run.length} layers)` : '');
}

/** A global-norm clipping threshold from the measured parameter gradients: as if every parameter had the median gradient. */
export function clippingThreshold(ctx: DiagnosisContext): number | undefined {
  const g = ctx.report.parameters.map((p) => p.gradNorm).filter((x): x is number => x !== null && x > 0).sort((a, b) => a - b);
  if (g.length === 0) return undefined;
  return g[Math.floor(g.length / 2)] * Math.sqrt(g.length);
}

/** Remedies that bring a run of layers' weights to the init that suits their activation (and swap sigmoids). */
function initRemedies(ctx: DiagnosisContext, layers: LayerReport[], swapSigmoid: boolean): Remedy[] {
  const out: Remedy[] = [];
  for (const l of layers) {
    let act = activationOf(l);
    const node = l.nodes.map((n) => ctx.facts.nodeByName.get(n)).find((n) => n?.opType === act);
    if (swapSigmoid && act === 'Sigmoid' && node && !isOutputLayer(ctx, l)) {
      out.push({ kind: 'swap-activation', node: node.name, from: 'Sigmoid', to: 'Relu' });
      act = 'Relu';
    }
    const w = weightOf(ctx, l);
    const ratio = w?.varianceRatio?.[schemeFor(act)];
    if (w && ratio && Math.abs(Math.log(ratio)) > Math.log(1.1)) out.push({ kind: 'rescale', parameter: w.name, factor: 1 / Math.sqrt(ratio) });
  }
  return out;
}

type Run = Array<{ layer: LayerReport; log: number }>;

/**
 * The common part of the two gradient-trend findings: the overall factor, the stretch of layers
 * where the gradient changes fastest in the given direction, and the finding's skeleton.
 */
function trendFinding(ctx: DiagnosisContext, kind: 'vanishing' | 'exploding'): { finding: Finding; part: Run } | undefined {
  const t = ctx.thresholds;
  const o = overall(ctx.report.layers);
  if (!o) return undefined;
  const vanishing = kind === 'vanishing';
  const [warn, err] = vanishing ? [t.vanishingGradientWarning, t.vanishingGradientError] : [t.explodingGradientWarning, t.explodingGradientError];
  if (vanishing ? o.factor >= warn : o.factor <= warn) return undefined;
  const error = vanishing ? o.factor < err : o.factor > err;
  const r = ratios(ctx.report.layers);
  const run = steepestRun(r, vanishing ? -1 : 1);
  const part = run ? r.slice(run.from, run.to + 1) : r;
  const [first, last] = [part[0].layer.name, part[part.length - 1].layer.name];
  const prefix = vanishing ? 'vanishingGradient' : 'explodingGradient';
  return {
    part,
    finding: {
      id: `${kind}-gradient:${o.first.name}`,
      rule: `${kind}-gradient`,
      severity: error ? 'error' : 'warning',
      layer: first,
      range: [first, last],
      message: `${vanishing ? 'Vanishing' : 'Exploding'} gradient: the gradient reaching ${o.first.name} is ${fmt(o.factor)} times the gradient leaving ${o.last.name}. `
        + `It ${vanishing ? 'falls' : 'grows'} fastest over ${part.length} layer${part.length > 1 ? 's' : ''} (${first} .. ${last}), per-layer factors: ${describeRun(part)}.`,
      measured: o.factor,
      measuredName: 'gradient norm ratio, first layer input / last layer output',
      threshold: error ? err : warn,
      thresholdName: `${prefix}${error ? 'Error' : 'Warning'}`,
      why: '',
    },
  };
}

export const vanishingGradient: Rule = {
  id: 'vanishing-gradient',
  title: 'the backpropagated gradient shrinks geometrically through depth',
  check(ctx) {
    const trend = trendFinding(ctx, 'vanishing');
    if (!trend) return [];
    const { finding, part } = trend;
    const [first, last] = [part[0].layer.name, part[part.length - 1].layer.name];
    const sigmoids = part.filter((x) => activationOf(x.layer) === 'Sigmoid' && !isOutputLayer(ctx, x.layer)).length;
    const remedies = initRemedies(ctx, part.map((x) => x.layer), true);
    const fanIn = weightOf(ctx, part[0].layer)?.fanIn;
    const he = fanIn ? `He (std sqrt(2/fan_in) = ${fmt(Math.sqrt(2 / fanIn))} for ${first}'s fan-in ${fanIn})` : 'He (std sqrt(2/fan_in))';
    return [{
      ...finding,
      why: 'The first layers get updates orders of magnitude smaller than the last ones, so they barely learn.',
      fix: sigmoids > 0
        ? `Swap the ${sigmoids} hidden Sigmoid activation${sigmoids > 1 ? 's' : ''} in ${first} .. ${last} for ReLU (slope 1 instead of at most 0.25) and initialise those weights with ${he}; or add skip connections around the stretch.`
        : `Initialise ${first} .. ${last} with the scheme that suits their activation (He for ReLU, LeCun for tanh), add normalisation, or add skip connections around the stretch.`,
      expect: 'Each layer\'s gradient factor moves towards 1 and the gradient reaching the first layer grows by orders of magnitude (preview it with what-if).',
      remedies: remedies.length ? remedies : undefined,
    }];
  },
};

export const explodingGradient: Rule = {
  id: 'exploding-gradient',
  title: 'the backpropagated gradient grows geometrically through depth',
  check(ctx) {
    const trend = trendFinding(ctx, 'exploding');
    if (!trend) return [];
    const { finding, part } = trend;
    const clip = clippingThreshold(ctx);
    const remedies = initRemedies(ctx, part.map((x) => x.layer), false);
    return [{
      ...finding,
      why: 'The first layers take steps far larger than the last ones, so any learning rate small enough for them starves the rest, and training diverges.',
      fix: `Rescale the weights of ${part[0].layer.name} .. ${part[part.length - 1].layer.name} to the init that suits their activation (factors in the what-if remedies)`
        + (clip !== undefined ? `, and clip the global gradient norm at ${fmt(clip)} (the norm if every parameter had the median measured gradient).` : '.'),
      expect: 'Each layer\'s gradient factor moves towards 1; clipping caps the step when a batch still blows up.',
      remedies: remedies.length ? remedies : undefined,
    }];
  },
};
