import { boundWords } from '../../report/figures';
import { fmt, type Rule } from '../rule';

export const learningRate: Rule = {
  id: 'learning-rate',
  title: 'the largest stable learning rate, from the Hessian\'s top eigenvalue',
  check(ctx) {
    const c = ctx.report.curvature;
    if (c.hessianMaxEigenvalue === null || c.hessianMaxEigenvalue <= 0) return [];
    const decay = ctx.training.weightDecay ?? 0;
    const lam = c.hessianMaxEigenvalue + decay;
    const sgd = 2 / lam;
    const heavy = (2 * (1 + c.momentum)) / lam;
    const lr = ctx.training.learningRate;
    const kind = c.kinds?.hessianMaxEigenvalue ?? 'estimate';
    const base = {
      id: 'learning-rate',
      rule: 'learning-rate',
      measured: c.hessianMaxEigenvalue,
      measuredKind: kind,
      measuredName: `top Hessian eigenvalue of the ${ctx.report.run.loss} loss${ctx.report.run.lossReduction ? ` (${ctx.report.run.lossReduction} over the batch)` : ''}${c.error !== undefined ? ` (± ${fmt(c.error)})` : ''}`,
      why: 'Gradient descent is stable only for eta < 2 / lambda_max; beyond it the loss diverges along the top eigenvector (README, "How the numbers are computed": curvature).',
    };
    // lambda_max a lower bound (Lanczos not converged): the rates are upper bounds, "at most"
    const atMost = kind === 'lower-bound' ? 'at most ' : '';
    const bound = `SGD below ${atMost}${fmt(sgd)}, heavy-ball momentum ${c.momentum} below ${atMost}${fmt(heavy)} (lambda_max ${boundWords(kind)}${fmt(c.hessianMaxEigenvalue)}${decay ? ` + weight decay ${fmt(decay)}` : ''}, at these samples and this loss)`;
    if (lr !== undefined && lr > 0 && lr > sgd) {
      return [{
        ...base,
        severity: 'warning',
        message: `Unstable learning rate: ${fmt(lr)} exceeds the largest stable step for plain SGD, ${fmt(sgd)}${lr > heavy ? ` and for momentum ${c.momentum}, ${fmt(heavy)}` : ''}. Stable: ${bound}.`,
        threshold: sgd,
        thresholdName: 'learningRate (stated)',
        fix: `Train with a learning rate below ${fmt(sgd)} (SGD) or ${fmt(heavy)} (momentum ${c.momentum}), or warm up to it: early curvature is highest.`,
        expect: 'The loss decreases instead of oscillating or diverging in the first steps.',
      }];
    }
    return [{
      ...base,
      severity: 'info',
      message: `Largest stable learning rate: ${bound}.`,
      fix: `Keep the learning rate under ${fmt(sgd)} with SGD or ${fmt(heavy)} with momentum ${c.momentum}; the linear scaling rule cannot pass this bound.`,
    }];
  },
};
