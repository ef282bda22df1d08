import type { Finding } from '../../report/types';
import { countText, measuredRange, placeText } from '../group';
import { activationOf, fmt, isNormalized, schemeFor, type Rule } from '../rule';

const SCHEME_NAME = { he: 'He', lecun: 'LeCun', xavier: 'Xavier' } as const;
const SCHEME_VAR = { he: 2, lecun: 1 } as const;

export const misScaledInit: Rule = {
  id: 'mis-scaled-init',
  title: 'weight variance far from the He/LeCun expectation for the layer\'s fan-in and activation',
  check(ctx) {
    const t = ctx.thresholds.initVarianceRatio;
    const out: Finding[] = [];
    for (const l of ctx.report.layers) {
      // A normalisation right after the weight makes the layer scale-invariant: its init scale is harmless.
      if (isNormalized(l)) continue;
      const act = activationOf(l);
      const scheme = schemeFor(act);
      for (const name of l.parameters) {
        const p = ctx.report.parameters.find((q) => q.name === name);
        const ratio = p?.varianceRatio?.[scheme];
        if (!p || ratio === undefined || p.fanIn === undefined || (ratio <= t && ratio >= 1 / t)) continue;
        const std = Math.sqrt(SCHEME_VAR[scheme] / p.fanIn);
        const over = ratio > t;
        out.push({
          id: `mis-scaled-init:${p.name}`,
          rule: 'mis-scaled-init',
          severity: 'warning',
          layer: l.name,
          parameter: p.name,
          message: `Mis-scaled initialisation: ${p.name} has variance ${fmt(ratio)}x the ${SCHEME_NAME[scheme]} expectation for fan-in ${p.fanIn}${act ? ` and ${act}` : ''} `
            + `(He ${fmt(p.varianceRatio!.he)}x, Xavier ${fmt(p.varianceRatio!.xavier)}x, LeCun ${fmt(p.varianceRatio!.lecun)}x).`,
          measured: ratio,
          measuredName: `Var(w) / ${SCHEME_NAME[scheme]} variance`,
          threshold: over ? t : 1 / t,
          thresholdName: 'initVarianceRatio',
          why: `Each layer ${over ? 'amplifies' : 'shrinks'} its signal's variance by this factor, and the effect compounds with depth${over && act === 'Tanh' ? ' and pushes tanh units into saturation' : ''}.`,
          fix: `Initialise ${p.name} with ${SCHEME_NAME[scheme]}: N(0, ${fmt(std)}^2) (std sqrt(${SCHEME_VAR[scheme]}/${p.fanIn})), or scale it by ${fmt(1 / Math.sqrt(ratio))}.`,
          expect: 'The layer\'s rms gain moves to about 1 (exactly 1 for a linear layer with Gaussian weights).',
          remedies: [{ kind: 'rescale', parameter: p.name, factor: 1 / Math.sqrt(ratio) }],
        });
      }
    }
    return out;
  },
  group: {
    title: 'Mis-scaled initialisation',
    summary: (ms) => `${countText(ms, ['weight', 'weights'], (m) => m.parameter)} have ${measuredRange(ms, (x) => `${x}x`)} the variance of the init that suits their layer's fan-in and activation`,
    fix: (ms, ctx) => `Initialise the weights of ${placeText(ctx.report.layers, ms, true)} with the scheme that suits each layer's activation (He for ReLU-like, LeCun otherwise; each weight's std is in its own entry), or scale each by the factor in the what-if remedies.`,
  },
};

export const heavyTailedWeights: Rule = {
  id: 'heavy-tailed-weights',
  title: 'weights with heavy tails (high kurtosis)',
  check(ctx) {
    const t = ctx.thresholds.heavyTailKurtosis;
    const out: Finding[] = [];
    for (const p of ctx.report.parameters) {
      if (p.kurtosis === null || p.kurtosis <= t || p.fanIn === undefined) continue;
      const layer = ctx.report.layers.find((l) => l.parameters.includes(p.name));
      const scheme = schemeFor(layer ? activationOf(layer) : undefined);
      out.push({
        id: `heavy-tailed-weights:${p.name}`,
        rule: 'heavy-tailed-weights',
        severity: 'warning',
        layer: layer?.name,
        parameter: p.name,
        message: `Heavy-tailed weights: ${p.name} has excess kurtosis ${fmt(p.kurtosis)} (a Gaussian has 0) at variance ${p.varianceRatio ? fmt(p.varianceRatio[scheme]) + 'x ' + SCHEME_NAME[scheme] : 'unknown'}.`,
        measured: p.kurtosis,
        measuredName: 'excess kurtosis',
        threshold: t,
        thresholdName: 'heavyTailKurtosis',
        why: 'Right variance, wrong shape: the few large weights push units into saturated regions and reintroduce vanishing gradients.',
        fix: `Re-initialise ${p.name} from a Gaussian or uniform with ${SCHEME_NAME[scheme]} std ${fmt(Math.sqrt(SCHEME_VAR[scheme] / p.fanIn))}, or orthogonally.`,
        expect: 'The kurtosis falls to about 0 and no unit sees outsized inputs.',
        remedies: [{ kind: 'reinit', parameter: p.name, scheme, std: Math.sqrt(SCHEME_VAR[scheme] / p.fanIn) }],
      });
    }
    return out;
  },
  group: {
    title: 'Heavy-tailed weights',
    summary: (ms) => `${countText(ms, ['weight', 'weights'], (m) => m.parameter)} have heavy tails, excess kurtosis ${measuredRange(ms)} (a Gaussian has 0)`,
    fix: (ms, ctx) => `Re-initialise the weights of ${placeText(ctx.report.layers, ms, true)} from a Gaussian or uniform with the std that suits each layer's activation (in each weight's own entry), or orthogonally.`,
  },
};
