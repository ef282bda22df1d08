import { boundWords, confirms, formatFigure, jacobianFigure, rankText } from '../../report/figures';
import type { Finding, LayerReport, ParameterReport } from '../../report/types';
import { countText, measuredRange, placeText } from '../group';
import { activationOf, fmt, isNormalized, isOutputLayer, normalisesActivations, schemeFor, weightOf, type DiagnosisContext, type Rule } from '../rule';

/** Said of a layer's gain in a model that normalises its activations (see normalisesActivations). */
const NORMALISED = ' The model normalises its activations, so this gain does not compound through depth: the gradient flow judges the whole (README "Does it train?").';

/** The weight-only side of a layer, for a finding that says whether weights or activations are the cause. */
function weightSide(w: ParameterReport | undefined, scheme: 'he' | 'lecun'): string {
  if (!w) return 'no weight-only variance figures for this layer';
  const parts = [];
  if (w.spectralNorm !== null) parts.push(`weight spectral norm ${fmt(w.spectralNorm)}`);
  if (w.conditionNumber) parts.push(`weight condition ${fmt(w.conditionNumber)}`);
  if (w.varianceRatio) parts.push(`variance ${fmt(w.varianceRatio[scheme])}x the ${scheme === 'he' ? 'He' : 'LeCun'} expectation`);
  return parts.join(', ');
}

export const explodingLayer: Rule = {
  id: 'exploding-layer',
  title: 'a layer stretches signals well beyond 1 (weights or activations as the cause)',
  check(ctx) {
    const t = ctx.thresholds;
    const out: Finding[] = [];
    const normalised = normalisesActivations(ctx);
    for (const l of ctx.report.layers) {
      const f = jacobianFigure(l.jacobian, 'sigmaMax');
      if (f === null || !confirms(f, 'above', t.expansiveLayerSigmaMax)) continue;
      const s = f.value;
      const act = activationOf(l);
      const scheme = schemeFor(act);
      const w = weightOf(ctx, l);
      const ratio = w?.varianceRatio?.[scheme];
      const weightsCause = !isNormalized(l) && ratio !== undefined && ratio > Math.sqrt(t.initVarianceRatio);
      if (!weightsCause && !confirms(f, 'above', t.explodingLayerSigmaMax)) continue;
      // Over-scaled weights go back to their scheme's variance (rms gain ~1 for unit-slope activations);
      // otherwise the first-order factor that brings sigma_max to 1.
      const factor = weightsCause ? 1 / Math.sqrt(ratio!) : 1 / s;
      const target = weightsCause ? `${scheme === 'he' ? 'He' : 'LeCun'} variance (std ${fmt(Math.sqrt((scheme === 'he' ? 2 : 1) / w!.fanIn!))} for fan-in ${w!.fanIn})` : 'sigma_max 1 (first order: preview it with what-if)';
      out.push({
        id: `exploding-layer:${l.name}`,
        rule: 'exploding-layer',
        severity: normalised ? 'info' : 'warning',
        layer: l.name,
        parameter: w?.name,
        message: `Exploding layer: ${l.name} stretches signals by ${f.kind === 'lower-bound' ? 'at least' : 'up to'} ${fmt(s)}x on the samples (rms gain ${l.jacobian.rmsGain === null ? '?' : fmt(l.jacobian.rmsGain)}, ${l.jacobian.method}); ${weightSide(w, scheme)}. `
          + (weightsCause ? 'The weights are over-scaled: they are the cause.' : 'The weights look sane: the activations on these samples are the cause.') + (normalised ? NORMALISED : ''),
        measured: s,
        measuredKind: f.kind,
        measuredName: 'sigma_max of the layer Jacobian',
        threshold: weightsCause ? t.expansiveLayerSigmaMax : t.explodingLayerSigmaMax,
        thresholdName: weightsCause ? 'expansiveLayerSigmaMax' : 'explodingLayerSigmaMax',
        why: 'Gradients passing back through this layer are amplified along its top singular directions, and the amplification compounds with every such layer.',
        fix: w ? `Scale ${w.name} by ${fmt(factor)}, to ${target}.` : `Add normalisation after ${l.name}.`,
        expect: 'The layer\'s rms gain moves to about 1 and its gradient factor with it.',
        remedies: w ? [{ kind: 'rescale', parameter: w.name, factor }] : undefined,
      });
    }
    return out;
  },
  group: {
    title: 'Exploding layers',
    summary: (ms) => `${countText(ms)} stretch signals, sigma_max ${measuredRange(ms)} each`,
    fix(ms, ctx) {
      const place = (of: Finding[]) => placeText(ctx.report.layers, of, true);
      const overScaled = ms.filter((m) => m.parameter && m.thresholdName === 'expansiveLayerSigmaMax');
      const sane = ms.filter((m) => m.parameter && m.thresholdName !== 'expansiveLayerSigmaMax');
      const bare = ms.filter((m) => !m.parameter);
      return [
        overScaled.length ? `Scale the weights of ${place(overScaled)} back to the variance of the init that suits their activation (He or LeCun; each layer's factor is in its own entry and the what-if remedies).` : '',
        sane.length ? `Scale the weights of ${place(sane)} by 1 / sigma_max each (first order: preview it with what-if).` : '',
        bare.length ? `Add normalisation after ${place(bare)}.` : '',
      ].filter(Boolean).join(' ');
    },
  },
};

/** What fixes a contracting layer: its sigmoid (kept when it is the model's output), its weight's scale, or the architecture. */
function contractingFix(ctx: DiagnosisContext, l: LayerReport): 'output-sigmoid' | 'sigmoid' | 'rescale' | 'architecture' {
  const act = activationOf(l);
  if (act === 'Sigmoid') return isOutputLayer(ctx, l) ? 'output-sigmoid' : 'sigmoid';
  return weightOf(ctx, l) ? 'rescale' : 'architecture';
}

export const contractingLayer: Rule = {
  id: 'contracting-layer',
  title: 'a layer shrinks signals on average (rms gain well below 1)',
  check(ctx) {
    const t = ctx.thresholds.contractingLayerRmsGain;
    const out: Finding[] = [];
    const normalised = normalisesActivations(ctx);
    for (const l of ctx.report.layers) {
      const f = jacobianFigure(l.jacobian, 'rmsGain');
      if (f === null || !confirms(f, 'below', t) || f.value === 0) continue;
      const g = f.value;
      const act = activationOf(l);
      const w = weightOf(ctx, l);
      const scheme = schemeFor(act);
      const sat = l.saturation && l.saturation.fraction > 0 ? `; ${fmt(100 * l.saturation.fraction)}% of units ${l.saturation.kind}` : '';
      const cause = act === 'Sigmoid' ? 'The sigmoid\'s slope is at most 0.25: it contracts whatever the weights.'
        : w?.varianceRatio && w.varianceRatio[scheme] < 1 / Math.sqrt(ctx.thresholds.initVarianceRatio) ? 'The weights are under-scaled: they are the cause.'
        : 'The activations on these samples are the cause.';
      out.push({
        id: `contracting-layer:${l.name}`,
        rule: 'contracting-layer',
        severity: normalised ? 'info' : 'warning',
        layer: l.name,
        parameter: w?.name,
        message: `Contracting layer: ${l.name} shrinks signals to ${fmt(g)}x on average (sigma_max ${l.jacobian.sigmaMax === null ? '?' : fmt(l.jacobian.sigmaMax)}); ${weightSide(w, scheme)}${sat}. ${cause}${normalised ? NORMALISED : ''}`,
        measured: g,
        measuredKind: f.kind,
        measuredName: 'rms gain of the layer Jacobian',
        threshold: t,
        thresholdName: 'contractingLayerRmsGain',
        why: 'Every gradient passing back through the layer shrinks by this factor; a few such layers make the early ones stop learning.',
        fix: {
          'output-sigmoid': `${l.name}'s Sigmoid is the model's output activation: keep it (or fold it into the loss, e.g. BCEWithLogits) and fix the layers before it.`,
          sigmoid: `Swap ${l.name}'s Sigmoid for ReLU or GELU (slope 1 near 0) with He init, or use tanh (slope 1 at 0, LeCun init).`,
          rescale: `Scale ${w?.name} by ${fmt(1 / g)} (1 / the layer's rms gain, a first-order estimate: preview it with what-if).`,
          architecture: 'Add normalisation or a skip connection around the layer.',
        }[contractingFix(ctx, l)],
        expect: 'The layer\'s rms gain moves towards 1.',
        remedies: act !== 'Sigmoid' && w ? [{ kind: 'rescale', parameter: w.name, factor: 1 / g }] : undefined,
      });
    }
    return out;
  },
  group: {
    title: 'Contracting layers',
    summary: (ms) => `${countText(ms)} contract signals, ${measuredRange(ms, (x) => `${x}x`)} each`,
    fix(ms, ctx) {
      const of = (kind: ReturnType<typeof contractingFix>) => ms.filter((m) => contractingFix(ctx, ctx.report.layers.find((l) => l.name === m.layer)!) === kind);
      const place = (xs: Finding[]) => placeText(ctx.report.layers, xs, true);
      const [sigmoid, output, rescale, architecture] = [of('sigmoid'), of('output-sigmoid'), of('rescale'), of('architecture')];
      return [
        sigmoid.length ? `Swap the Sigmoid of ${place(sigmoid)} for ReLU or GELU (slope 1 near 0) with He init, or use tanh (slope 1 at 0, LeCun init).` : '',
        output.length ? `Keep the Sigmoid of ${place(output)}: it is the model's output activation (or fold it into the loss, e.g. BCEWithLogits).` : '',
        rescale.length ? `Scale the weights of ${place(rescale)} by 1 / each layer's rms gain (a first-order estimate; each factor is in its own entry and the what-if remedies).` : '',
        architecture.length ? `Add normalisation or a skip connection around ${place(architecture)}.` : '',
      ].filter(Boolean).join(' ');
    },
  },
};

/** What fixes an ill-conditioned layer: an orthogonal re-init of its weight (the cause), a look at the samples (it is normalised), or normalisation. */
function illConditionedFix(ctx: DiagnosisContext, l: LayerReport): 'reinit' | 'samples' | 'normalise' {
  const wk = weightOf(ctx, l)?.conditionNumber ?? null;
  if (wk !== null && wk > ctx.thresholds.illConditioned / 10) return 'reinit';
  return isNormalized(l) ? 'samples' : 'normalise';
}

export const illConditioned: Rule = {
  id: 'ill-conditioned-layer',
  title: 'a layer passes some directions far more strongly than others',
  check(ctx) {
    const t = ctx.thresholds.illConditioned;
    const out: Finding[] = [];
    for (const l of ctx.report.layers) {
      const f = jacobianFigure(l.jacobian, 'conditionNumber');
      // singular only because units are off at this sample (a ReLU's zero rows): how ReLU networks work, not a defect
      if (f === null || !confirms(f, 'above', t) || offUnitsExplain(l)) continue;
      const k = f.value;
      const min = jacobianFigure(l.jacobian, 'sigmaMin');
      const w = weightOf(ctx, l);
      const wk = w?.conditionNumber ?? null;
      const weightsCause = illConditionedFix(ctx, l) === 'reinit';
      const act = activationOf(l);
      const normalized = isNormalized(l);
      out.push({
        id: `ill-conditioned-layer:${l.name}`,
        rule: 'ill-conditioned-layer',
        severity: 'warning',
        layer: l.name,
        parameter: w?.name,
        message: `Ill-conditioned layer: ${l.name} has condition number ${Number.isFinite(k) ? `${boundWords(f.kind)}${fmt(k)}` : `infinite, ${rankText(l.jacobian)}`} (sigma_max ${fmt(l.jacobian.sigmaMax!)}, sigma_min ${formatFigure(min)}, ${l.jacobian.method}); `
          + (wk !== null ? `its weight alone has condition ${fmt(wk)}, so ${weightsCause ? 'the weights are the cause' : `the activations${act ? ` (${act})` : ''} on these samples are the cause`}.` : 'no weight-only condition number for this layer.'),
        measured: Number.isFinite(k) ? k : undefined,
        measuredKind: f.kind,
        measuredName: 'condition number of the layer Jacobian',
        threshold: t,
        thresholdName: 'illConditioned',
        why: 'The layer explodes along some directions and vanishes along others at once: the network learns some features and is blind to others.',
        fix: weightsCause ? `Re-initialise ${w!.name} orthogonally (condition 1) with gain ${fmt(Math.sqrt(2))} for ReLU or 1 otherwise${normalized ? '' : ', or add normalisation after the layer'}.`
          : normalized ? 'Check the samples: units saturated or dead on them make the Jacobian nearly singular.' : `Add normalisation (BatchNorm or LayerNorm) after ${l.name}: it re-conditions the layer.`,
        expect: 'The condition number falls by orders of magnitude.',
        remedies: weightsCause && w && w.shape.length === 2 ? [{ kind: 'reinit', parameter: w.name, scheme: 'orthogonal', std: 0, gain: schemeFor(act) === 'he' ? Math.sqrt(2) : 1 }] : undefined,
      });
    }
    return out;
  },
  group: {
    title: 'Ill-conditioned layers',
    summary: (ms) => `${countText(ms)} pass some directions far more strongly than others, condition number ${measuredRange(ms, (x) => x, { missing: '∞' })}`,
    fix(ms, ctx) {
      const of = (kind: ReturnType<typeof illConditionedFix>) => ms.filter((m) => illConditionedFix(ctx, ctx.report.layers.find((l) => l.name === m.layer)!) === kind);
      const place = (xs: Finding[]) => placeText(ctx.report.layers, xs, true);
      const [reinit, samples, normalise] = [of('reinit'), of('samples'), of('normalise')];
      return [
        reinit.length ? `Re-initialise the weights of ${place(reinit)} orthogonally (condition 1) with gain ${fmt(Math.sqrt(2))} for ReLU or 1 otherwise.` : '',
        normalise.length ? `Add normalisation (BatchNorm or LayerNorm) after ${place(normalise)}: it re-conditions each layer.` : '',
        samples.length ? `Check the samples for ${place(samples)}: units saturated or dead on them make the Jacobian nearly singular.` : '',
      ].filter(Boolean).join(' ');
    },
  },
};

/**
 * True when a singular layer Jacobian is singular only because output units are off at this sample
 * (zero rows, as a ReLU's inactive units give) or inputs are not read (zero columns, as a strided
 * convolution skips pixels): its rank reaches the most the other rows and columns allow.
 */
export function offUnitsExplain(l: LayerReport): boolean {
  const r = l.jacobian.rank;
  const { inputSize, outputSize } = l.jacobian;
  if (!r || r.value >= r.of || inputSize === undefined || outputSize === undefined) return false;
  const zeroColumns = r.zeroColumns ?? 0;
  return (r.zeroRows > 0 || zeroColumns > 0) && r.value >= Math.min(outputSize - r.zeroRows, inputSize - zeroColumns);
}
