import type { Finding } from '../../report/types';
import { countText, measuredRange, placeText } from '../group';
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
  group: {
    title: 'Saturated units',
    summary: (ms) => `${countText(ms)} have units saturated on every sample, ${measuredRange(ms, (x) => `${x}%`, { scale: 100 })} of each layer's units`,
    fix(ms, ctx) {
      const place = (xs: Finding[]) => placeText(ctx.report.layers, xs, true);
      const overScaled = ms.filter((m) => m.remedies?.length);
      const rest = ms.filter((m) => !m.remedies?.length);
      return [
        overScaled.length ? `Scale the weights of ${place(overScaled)} to LeCun variance (each layer's factor is in its own entry and the what-if remedies), or normalise their pre-activations (LayerNorm/BatchNorm before the activation).` : '',
        rest.length ? `Normalise the pre-activations of ${place(rest)} (LayerNorm/BatchNorm before the activation) or swap the activation for one that does not saturate (ReLU, GELU).` : '',
      ].filter(Boolean).join(' ');
    },
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
  group: {
    title: 'Dead units',
    summary: (ms) => `${countText(ms)} have ReLU units inactive on every sample, ${measuredRange(ms, (x) => `${x}%`, { scale: 100 })} of each layer's units`,
    fix: (ms, ctx) => `Swap the ReLU of ${placeText(ctx.report.layers, ms, true)} for LeakyReLU (slope 0.01) or GELU, check the biases feeding them (large negative biases kill units), and initialise their weights with He (std sqrt(2/fan_in)).`,
  },
};
