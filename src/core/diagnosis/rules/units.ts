import type { Finding } from '../../report/types';
import { activationOf, fmt, nodeOf, weightOf, type Rule } from '../rule';

export const saturatedUnits: Rule = {
  id: 'saturated-units',
  title: 'sigmoid/tanh units saturated on every sample',
  check(ctx) {
    const t = ctx.thresholds.saturatedFraction;
    const out: Finding[] = [];
    for (const l of ctx.report.layers) {
      if (l.saturation?.kind !== 'saturated' || l.saturation.fraction <= t) continue;
      const act = activationOf(l) ?? 'activation';
      const w = weightOf(ctx, l);
      const ratio = w?.varianceRatio?.lecun;
      out.push({
        id: `saturated-units:${l.name}`,
        rule: 'saturated-units',
        severity: 'warning',
        layer: l.name,
        node: nodeOf(ctx, l, act)?.name,
        tensor: l.outputTensors[0],
        message: `Saturated units: ${fmt(100 * l.saturation.fraction)}% of ${l.name}'s ${act} units are saturated on all ${ctx.report.run.samples} sample${ctx.report.run.samples > 1 ? 's' : ''}`
          + (ratio !== undefined ? ` (weight variance ${fmt(ratio)}x LeCun, kurtosis ${w!.kurtosis === null ? '?' : fmt(w!.kurtosis)}).` : '.'),
        measured: l.saturation.fraction,
        measuredName: 'fraction of units saturated on every sample',
        threshold: t,
        thresholdName: 'saturatedFraction',
        why: 'A saturated unit has a slope near 0: no gradient passes through it, so its weights stop learning.',
        fix: ratio !== undefined && ratio > 1
          ? `Scale ${w!.name} by ${fmt(1 / Math.sqrt(ratio))} to LeCun variance (std ${fmt(Math.sqrt(1 / w!.fanIn!))}), or normalise the pre-activations (LayerNorm/BatchNorm before the ${act}).`
          : `Normalise the pre-activations (LayerNorm/BatchNorm before the ${act}) or swap it for an activation that does not saturate (ReLU, GELU).`,
        expect: 'The saturated fraction falls towards 0 and the layer\'s gain recovers.',
        remedies: ratio !== undefined && ratio > 1 ? [{ kind: 'rescale', parameter: w!.name, factor: 1 / Math.sqrt(ratio) }] : undefined,
      });
    }
    return out;
  },
};

export const deadUnits: Rule = {
  id: 'dead-units',
  title: 'ReLU units inactive on every sample',
  check(ctx) {
    const t = ctx.thresholds;
    if (ctx.report.run.samples < t.deadMinSamples) return [];
    const out: Finding[] = [];
    for (const l of ctx.report.layers) {
      if (l.saturation?.kind !== 'dead' || l.saturation.fraction <= t.deadFraction) continue;
      const w = weightOf(ctx, l);
      out.push({
        id: `dead-units:${l.name}`,
        rule: 'dead-units',
        severity: 'warning',
        layer: l.name,
        node: nodeOf(ctx, l, 'Relu')?.name,
        tensor: l.outputTensors[0],
        message: `Dead units: ${fmt(100 * l.saturation.fraction)}% of ${l.name}'s ReLU units are inactive on all ${ctx.report.run.samples} samples.`,
        measured: l.saturation.fraction,
        measuredName: 'fraction of units inactive on every sample',
        threshold: t.deadFraction,
        thresholdName: 'deadFraction',
        why: 'A unit that is negative on every input gets no gradient and never recovers: the layer is narrower than it looks.',
        fix: `Swap the ReLU for LeakyReLU (slope 0.01) or GELU, check the biases feeding it (large negative biases kill units)${w ? `, and initialise ${w.name} with He (std ${fmt(Math.sqrt(2 / w.fanIn!))})` : ''}.`,
        expect: 'The dead fraction falls to near 0 and the layer\'s rank recovers.',
        remedies: nodeOf(ctx, l, 'Relu') ? [{ kind: 'swap-activation', node: nodeOf(ctx, l, 'Relu')!.name, from: 'Relu', to: 'LeakyRelu' }] : undefined,
      });
    }
    return out;
  },
};
