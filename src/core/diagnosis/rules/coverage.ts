import type { Finding } from '../../report/types';
import type { Rule } from '../rule';

/**
 * What the analysis could not measure. A verdict is only as good as its figures: when the gradient
 * flow failed (an operator without a derivative rule on the path, a recurrent node that could not be
 * unrolled), the vanishing and exploding-gradient rules have nothing to judge, and a "healthy" verdict
 * must say that it covers less.
 */
export const incompleteAnalysis: Rule = {
  id: 'incomplete-analysis',
  title: 'figures the analysis could not compute (the verdict covers the rest)',
  check(ctx) {
    const { layers } = ctx.report;
    if (ctx.report.run.phase || layers.length === 0) return [];
    const out: Finding[] = [];
    const noFlow = layers.filter((l) => l.gradient.inputNorm === null && l.gradient.outputNorm === null && l.gradient.reason);
    if (noFlow.length === layers.length) {
      out.push({
        id: 'incomplete-analysis:gradient-flow',
        rule: 'incomplete-analysis',
        severity: 'info',
        layer: layers[0].name,
        message: `The gradient flow could not be computed (${noFlow[0].gradient.reason}), so vanishing and exploding gradients are not judged.`,
        measured: noFlow.length,
        measuredName: 'layers without a gradient norm',
        why: 'Vanishing and exploding gradients are read from the backpropagated gradient at every layer; without it only the layers\' own Jacobians are judged.',
        fix: 'See the README, "Supported operators": an operator without a derivative rule stops the gradient flow. Replacing it (or, for a recurrent node, dropping the attribute that keeps it from being unrolled) lets the analysis follow the gradient through it.',
      });
    }
    const failed = layers.filter((l) => l.jacobian.method === 'failed');
    if (failed.length > 0) {
      out.push({
        id: 'incomplete-analysis:layers',
        rule: 'incomplete-analysis',
        severity: 'info',
        layer: failed[0].name,
        message: `${failed.length} of ${layers.length} layers could not be probed (${failed[0].name}: ${failed[0].jacobian.reason ?? 'no reason given'}), so their gains are not judged.`,
        measured: failed.length,
        measuredName: 'layers without Jacobian figures',
        why: 'A layer\'s gain and conditioning come from its Jacobian; a layer whose Jacobian could not be computed is left out of the layer rules.',
      });
    }
    return out;
  },
};
