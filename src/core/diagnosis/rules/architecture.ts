import { boundWords, confirms, jacobianFigure } from '../../report/figures';
import type { Finding, LayerReport } from '../../report/types';
import { tensorToFloat64 } from '../../onnx/tensorData';
import { countText, measuredRange } from '../group';
import { fmt, NORMALIZATIONS, type Rule } from '../rule';
import { offUnitsExplain } from './layerGain';

export const plainDeepStack: Rule = {
  id: 'plain-deep-stack',
  title: 'a deep stack without skip connections whose gradient decays',
  check(ctx) {
    const t = ctx.thresholds;
    const layers = ctx.report.layers;
    if (layers.length < t.plainStackMinLayers || ctx.facts.residualJoins.length > 0) return [];
    const first = layers.find((l) => (l.gradient.inputNorm ?? 0) > 0);
    const last = [...layers].reverse().find((l) => (l.gradient.outputNorm ?? 0) > 0);
    if (!first || !last) return [];
    const factor = first.gradient.inputNorm! / last.gradient.outputNorm!;
    if (factor >= Math.sqrt(t.vanishingGradientWarning)) return [];
    return [{
      id: 'plain-deep-stack',
      rule: 'plain-deep-stack',
      severity: 'warning',
      layer: first.name,
      range: [first.name, last.name],
      message: `Deep plain stack: ${layers.length} layers with no skip connection, and the gradient reaching ${first.name} is ${fmt(factor)}x the gradient leaving ${last.name}.`,
      measured: layers.length,
      measuredName: 'layers without a skip connection',
      threshold: t.plainStackMinLayers,
      thresholdName: 'plainStackMinLayers',
      why: 'Every layer multiplies the gradient by its Jacobian; a residual connection x + F(x) adds an identity path (Jacobian I + J_F) that reaches the early layers undamped.',
      fix: `Add residual connections every 2 layers between ${first.name} and ${last.name} (x + F(x), with F's last layer scaled near 0 at init), or normalisation inside each block.`,
      expect: 'The gradient reaching the first layer rises to within an order of magnitude of the last layer\'s.',
    }];
  },
};

export const missingNormalization: Rule = {
  id: 'missing-normalization',
  title: 'poorly conditioned layers in a model without any normalisation',
  check(ctx) {
    if ([...ctx.facts.opTypes].some((op) => NORMALIZATIONS.has(op))) return [];
    // BatchNorm folded into the convolutions by the exporter is normalisation the graph no longer shows (rule batchnorm-semantics says so)
    if ((ctx.report.run.batchNorm?.folded.length ?? 0) > 0) return [];
    const t = ctx.thresholds.illConditioned;
    const kappa = (l: LayerReport) => jacobianFigure(l.jacobian, 'conditionNumber');
    const bad = ctx.report.layers.filter((l) => confirms(kappa(l), 'above', t) && !offUnitsExplain(l) && Number.isFinite(kappa(l)!.value));
    if (bad.length === 0) return [];
    const worst = bad.reduce((a, b) => (kappa(a)!.value > kappa(b)!.value ? a : b));
    const worstKappa = kappa(worst)!;
    return [{
      id: 'missing-normalization',
      rule: 'missing-normalization',
      severity: 'info',
      layer: worst.name,
      message: `No normalisation anywhere in the model, and ${bad.length} layer${bad.length > 1 ? 's are' : ' is'} ill-conditioned (worst: ${worst.name}, condition ${boundWords(worstKappa.kind)}${fmt(worstKappa.value)}).`,
      measured: worstKappa.value,
      measuredKind: worstKappa.kind,
      measuredName: 'worst layer condition number',
      threshold: t,
      thresholdName: 'illConditioned',
      why: 'Normalisation re-conditions each layer: ideally it makes the Jacobian isotropic (condition near 1).',
      fix: `Add LayerNorm (or BatchNorm for CNNs with large batches) after ${bad.slice(0, 3).map((l) => l.name).join(', ')}${bad.length > 3 ? ' and the other ill-conditioned layers' : ''}.`,
      expect: 'The condition numbers of those layers fall by orders of magnitude.',
    }];
  },
};

export const degenerateBatchNorm: Rule = {
  id: 'degenerate-batchnorm',
  title: 'a BatchNorm running variance near zero',
  check(ctx) {
    const floor = ctx.thresholds.batchNormVarianceFloor;
    const out: Finding[] = [];
    // batch statistics are the training step's, not stored running ones: a small batch variance is how that BatchNorm trains
    if (ctx.report.run.batchNorm?.mode === 'batch') return [];
    for (const n of ctx.model.graph.nodes.filter((x) => x.opType === 'BatchNormalization')) {
      const v = ctx.model.graph.initializers.get(n.inputs[4]);
      if (!v?.raw && !v?.external) continue;
      let values: Float64Array;
      try {
        values = tensorToFloat64(v);
      } catch {
        continue;
      }
      const bad = [...values].filter((x) => x < floor);
      if (bad.length === 0) continue;
      const eps = n.attributes.find((a) => a.name === 'epsilon');
      const e = eps?.type === 'float' ? eps.value : 1e-5;
      const smallest = Math.min(...bad);
      out.push({
        id: `degenerate-batchnorm:${n.name}`,
        rule: 'degenerate-batchnorm',
        severity: 'warning',
        layer: ctx.report.layers.find((l) => l.nodes.includes(n.name))?.name,
        node: n.name,
        parameter: v.name,
        message: `Degenerate normalisation statistics: ${bad.length} of ${values.length} channels of ${v.name} have running variance below ${fmt(floor)} (smallest ${fmt(smallest)}); with epsilon ${fmt(e)} those channels are scaled by up to ${fmt(1 / Math.sqrt(smallest + e))}.`,
        measured: smallest,
        measuredName: 'smallest running variance',
        threshold: floor,
        thresholdName: 'batchNormVarianceFloor',
        why: 'At inference the channel is divided by sqrt(var + eps): a near-zero variance turns tiny input noise into huge activations.',
        fix: 'Those channels were constant on the training data: recompute the running statistics on representative data, raise epsilon (1e-3), or prune the channels.',
        expect: `The channel gain falls from ${fmt(1 / Math.sqrt(smallest + e))} to about 1.`,
      });
    }
    return out;
  },
  group: {
    title: 'Degenerate normalisation statistics',
    summary: (ms) => `${countText(ms, ['BatchNorm has', 'BatchNorms have'], (m) => m.node)} running variances near 0, smallest ${measuredRange(ms)}`,
  },
};
