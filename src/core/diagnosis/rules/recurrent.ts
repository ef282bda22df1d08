import type { Finding } from '../../report/types';
import { countText, measuredRange } from '../group';
import { fmt, type Rule } from '../rule';

export const recurrentSpectralRadius: Rule = {
  id: 'recurrent-spectral-radius',
  title: 'spectral radius of each recurrent gate, and the gradient through time',
  check(ctx) {
    const t = ctx.thresholds;
    const out: Finding[] = [];
    for (const p of ctx.report.parameters) {
      if (!p.recurrentGates?.length) continue;
      const layer = ctx.report.layers.find((l) => l.parameters.includes(p.name));
      const gates = p.recurrentGates.map((g) => `${g.gate} ${fmt(g.spectralRadius)}`).join(', ');
      const hi = p.recurrentGates.filter((g) => g.spectralRadius > t.recurrentRadiusHigh);
      const lo = p.recurrentGates.filter((g) => g.spectralRadius < t.recurrentRadiusLow);
      const series = layer?.throughTime?.hiddenGradNorms;
      const decay = series && series.length > 1 && series[series.length - 1] > 0 ? series[0] / series[series.length - 1] : undefined;
      const time = decay !== undefined ? ` Through time, the gradient at the first step is ${fmt(decay)}x the gradient at the last (${series!.length} steps).` : '';
      const fading = decay !== undefined && decay < t.vanishingGradientWarning;
      const worst = hi.length ? hi.reduce((a, b) => (a.spectralRadius > b.spectralRadius ? a : b)) : lo.length ? lo.reduce((a, b) => (a.spectralRadius < b.spectralRadius ? a : b)) : undefined;
      const base = {
        rule: 'recurrent-spectral-radius',
        layer: layer?.name,
        parameter: p.name,
        why: 'Backpropagation through time multiplies by the recurrent weight at every step: its spectral radius decides whether long-range gradients vanish (< 1) or explode (> 1).',
      };
      out.push({
        ...base,
        id: `recurrent-spectral-radius:${p.name}`,
        severity: worst || fading ? 'warning' : 'info',
        message: `Recurrent weight ${p.name}: spectral radius per gate ${gates}.${time}`
          + (hi.length ? ` The ${hi.map((g) => g.gate).join(', ')} gate${hi.length > 1 ? 's exceed' : ' exceeds'} ${t.recurrentRadiusHigh}: gradients through time explode.` : '')
          + (lo.length ? ` The ${lo.map((g) => g.gate).join(', ')} gate${lo.length > 1 ? 's are' : ' is'} below ${t.recurrentRadiusLow}: long-range gradients vanish.` : '')
          + (fading && !worst ? ` The gradient through time vanishes (below ${fmt(t.vanishingGradientWarning)}): the first steps barely influence learning.` : ''),
        measured: worst?.spectralRadius ?? Math.max(...p.recurrentGates.map((g) => g.spectralRadius)),
        measuredName: worst ? `spectral radius of the ${worst.gate} gate` : 'largest gate spectral radius',
        threshold: hi.length ? t.recurrentRadiusHigh : lo.length ? t.recurrentRadiusLow : undefined,
        thresholdName: hi.length ? 'recurrentRadiusHigh' : lo.length ? 'recurrentRadiusLow' : undefined,
        fix: hi.length ? `Scale the ${worst!.gate} gate's block of ${p.name} by ${fmt(0.95 / worst!.spectralRadius)} (radius 0.95), use an orthogonal init for the recurrent weights, and clip gradients.`
          : lo.length || fading ? `Initialise the recurrent weights orthogonally (radius 1)${ctx.model.graph.nodes.some((n) => n.opType === 'LSTM') ? ' and set the forget-gate bias to 1 (the cell then keeps its state by default)' : ''}; truncate backpropagation through time to the horizon the gradient survives.`
          : undefined,
        expect: worst || fading ? 'The gate\'s spectral radius moves to just under 1 and the gradient through time stays level.' : undefined,
      });
    }
    return out;
  },
  group: {
    title: 'Recurrent weights',
    summary: (ms) => `${countText(ms, ['recurrent weight', 'recurrent weights'], (m) => m.parameter)}, gate spectral radius ${measuredRange(ms)} at each one's most extreme gate`,
  },
};
