import type { Finding } from '../../report/types';
import type { Rule } from '../rule';

/** How to export with the normalisation kept (PyTorch), quoted in the fix. */
export const PRESERVE_EXPORT = 'torch.onnx.export(model.eval(), ..., training=torch.onnx.TrainingMode.PRESERVE)';

/** The verdict's clause about folded BatchNorm (diagnose.ts appends it to the headline), or undefined. */
export function foldedBatchNormClause(run: { batchNorm?: { mode: string; folded: unknown[] } }): string | undefined {
  const bn = run.batchNorm;
  if (!bn || bn.folded.length === 0) return undefined;
  return bn.mode === 'batch'
    ? 'BatchNorm was folded into the convolutions by the exporter; analysed with it re-inserted at batch statistics'
    : 'BatchNorm was folded into the convolutions by the exporter, so the figures describe the network without normalisation';
}

/**
 * What the analysis did about BatchNorm (README "BatchNorm at initialisation"): BatchNorm folded
 * into the convolutions by the exporter (re-inserted, or, with running statistics, the figures are
 * of a network without normalisation), BatchNorm at its default running statistics analysed with
 * batch statistics, and Dropout run as the identity. Info only: it says what the figures describe.
 */
export const batchNormSemantics: Rule = {
  id: 'batchnorm-semantics',
  title: 'BatchNorm folded by the exporter or at its initial statistics: which semantics the figures use',
  check(ctx) {
    const bn = ctx.report.run.batchNorm;
    if (!bn) return [];
    const out: Finding[] = [];
    // one builder for the three findings: what is on the node, in the rule's words
    const add = (what: 'folded' | 'defaults' | 'dropout', node: string, f: Pick<Finding, 'message' | 'why' | 'fix' | 'layer'>) =>
      out.push({ id: `batchnorm-semantics:${what}`, rule: 'batchnorm-semantics', severity: 'info', node, ...f });
    const stats = bn.mode === 'batch' ? `the statistics of a batch of ${bn.batchSize ?? '?'} samples, frozen for the Jacobians` : 'the running statistics stored in the model';
    if (bn.folded.length > 0) {
      const first = bn.folded[0];
      add('folded', first.node, {
        layer: ctx.report.layers.find((l) => l.nodes.includes(first.node))?.name,
        message: bn.mode === 'batch'
          ? `BatchNorm was folded into ${bn.folded.length} convolution${bn.folded.length === 1 ? '' : 's'} by the exporter (${first.node}${bn.folded.length > 1 ? ' and others' : ''}); the analysis re-inserted it after each, normalising with ${stats}, so the figures describe the network that trains.`
          : `BatchNorm was folded into ${bn.folded.length} convolution${bn.folded.length === 1 ? '' : 's'} by the exporter (${first.node}${bn.folded.length > 1 ? ' and others' : ''}), and running statistics were requested: the figures describe the network without normalisation, not the one that trains.`,
        why: 'PyTorch\'s eval-mode export fuses each BatchNorm into the convolution before it; at initialisation the fused BatchNorm is the identity (mean 0, variance 1), while in training it normalises every batch, which is what makes such networks train.',
        fix: `Export with the normalisation kept: ${PRESERVE_EXPORT}${bn.mode === 'running' ? ', or analyse with --batchnorm auto (setting gradientDoctor.batchNorm)' : ''}.`,
      });
    }
    if (bn.defaultStatistics.length > 0) {
      add('defaults', bn.defaultStatistics[0], {
        message: `${bn.defaultStatistics.length} BatchNorm node${bn.defaultStatistics.length === 1 ? ' has' : 's have'} running statistics at their defaults (mean 0, variance 1): the model was exported at initialisation; analysed with ${stats}.`,
        why: 'At the default statistics BatchNorm is the identity in inference; in training it normalises with the batch\'s statistics.',
        fix: bn.mode === 'running' ? 'Analyse with --batchnorm auto or batch (setting gradientDoctor.batchNorm) to see the network as it trains.' : undefined,
      });
    }
    if (bn.dropout.length > 0) {
      add('dropout', bn.dropout[0], {
        message: `${bn.dropout.length} Dropout node${bn.dropout.length === 1 ? '' : 's'} analysed as the identity (inference); in training each rescales a random mask, which multiplies the expected squared gain by 1 and adds noise.`,
        why: 'The analysis measures the expected network; Dropout\'s mask is random per step.',
      });
    }
    return out;
  },
};
