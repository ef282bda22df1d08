import { confirms, jacobianFigure } from '../../report/figures';
import { fmt, normalisesActivations, type Rule } from '../rule';
import { zeroHead } from './initialisation';

export const endToEndExplosion: Rule = {
  id: 'end-to-end-explosion',
  title: 'the input-to-output Jacobian stretches some direction far beyond 1',
  check(ctx) {
    const e = ctx.report.endToEnd;
    const t = ctx.thresholds.endToEndSigmaMax;
    const f = jacobianFigure(e, 'sigmaMax');
    if (f === null || !confirms(f, 'above', t)) return [];
    // In a residual network each block adds its branch's gain; scaling the branches by
    // 1 / sqrt(blocks) keeps the sum of L of them O(1) (the Fixup / SkipInit argument).
    const joins = ctx.facts.residualJoins;
    const scale = joins.length ? 1 / Math.sqrt(joins.length) : undefined;
    return [{
      id: 'end-to-end-explosion',
      rule: 'end-to-end-explosion',
      // a model that normalises its activations trains at hundreds (README "Does it train?"): there the gradient flow judges
      severity: normalisesActivations(ctx) ? 'info' : 'warning',
      message: `Exploding end to end: the model stretches an input perturbation by ${f.kind === 'lower-bound' ? 'at least' : 'up to'} ${fmt(f.value)}x (rms gain ${e.rmsGain === null ? 'unknown' : fmt(e.rmsGain)}, ${e.method}).${normalisesActivations(ctx) ? ' The model normalises its activations, which networks that train reach too: the gradient flow judges the whole.' : ''}`,
      measured: f.value,
      measuredKind: f.kind,
      measuredName: 'sigma_max of the input-to-output Jacobian',
      threshold: t,
      thresholdName: 'endToEndSigmaMax',
      why: 'Far from dynamical isometry: small input changes (and the gradients that mirror them) are amplified, so training is unstable and the model is brittle.',
      fix: scale !== undefined
        ? `Scale each of the ${joins.length} residual branches by ${fmt(scale)} (1 / sqrt(number of blocks), as Fixup and SkipInit do) or put a learnable gate initialised near 0 on them; rescale the layers flagged as exploding.`
        : 'Rescale the layers flagged as exploding (see their findings for the factors), or add normalisation; spectral normalisation bounds the whole model\'s Lipschitz constant by the product of per-layer bounds.',
      expect: 'sigma_max of the end-to-end Jacobian moves towards 1.',
      remedies: scale !== undefined ? joins.map((j) => ({ kind: 'residual-scale' as const, node: j.node.name, input: j.branch, factor: scale })) : undefined,
    }];
  },
};

export const endToEndCollapse: Rule = {
  id: 'end-to-end-collapse',
  title: 'the output barely depends on the input',
  check(ctx) {
    const e = ctx.report.endToEnd;
    const t = ctx.thresholds.endToEndRmsGain;
    const f = jacobianFigure(e, 'rmsGain');
    // A zero-initialised head makes the output constant at init by design (the zero-init finding says so).
    if (f === null || !confirms(f, 'below', t) || zeroHead(ctx)) return [];
    return [{
      id: 'end-to-end-collapse',
      rule: 'end-to-end-collapse',
      severity: 'warning',
      message: `Vanishing end to end: the model's input-to-output rms gain is ${fmt(f.value)} (sigma_max ${e.sigmaMax === null ? 'unknown' : fmt(e.sigmaMax)}).`,
      measured: f.value,
      measuredKind: f.kind,
      measuredName: 'rms singular value of the input-to-output Jacobian',
      threshold: t,
      thresholdName: 'endToEndRmsGain',
      why: 'The signal has collapsed on its way through: the output is nearly constant in the input, and the gradient reaching the input side is as small.',
      fix: 'Find the contracting layers (their findings give the factor that brings each gain to 1) and fix their init or activation; skip connections give the signal an undamped path.',
      expect: 'The end-to-end rms gain rises towards 1.',
    }];
  },
};

export const lyapunovExponent: Rule = {
  id: 'lyapunov-exponent',
  title: 'the mean log gain per layer is far from the critical point 0',
  check(ctx) {
    const lam = ctx.report.endToEnd.lyapunovExponent;
    const t = ctx.thresholds;
    const n = ctx.report.layers.filter((l) => l.lyapunovRunningSum !== null).length;
    if (lam === null || n < t.lyapunovMinLayers || Math.abs(lam) <= t.lyapunovExponent) return [];
    // With skip connections, layers are not composed one after another: the mean over them says little.
    if (ctx.facts.residualJoins.length > 0) return [];
    const perLayer = Math.exp(lam);
    return [{
      id: 'lyapunov-exponent',
      rule: 'lyapunov-exponent',
      severity: 'warning',
      message: `Lyapunov exponent ${fmt(lam)}: on average each of the ${n} layers ${lam < 0 ? 'shrinks' : 'stretches'} a signal by ${fmt(perLayer)}x, ${fmt(Math.exp(lam * n))}x over the whole depth.`,
      measured: lam,
      measuredName: 'mean over layers of log(rms gain)',
      threshold: lam < 0 ? -t.lyapunovExponent : t.lyapunovExponent,
      thresholdName: 'lyapunovExponent',
      why: `A network trains best at the edge of chaos, exponent 0; at ${fmt(lam)} it is deep in the ${lam < 0 ? 'ordered (vanishing)' : 'chaotic (exploding)'} phase.`,
      fix: `Scale the layers' weights by about ${fmt(1 / perLayer)} each (1 / the mean per-layer gain) or switch to the init that suits their activation.`,
      expect: 'The exponent moves towards 0 and the running log-gain sum flattens.',
    }];
  },
};
