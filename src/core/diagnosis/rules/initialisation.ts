import type { Finding, LayerReport, ParameterReport } from '../../report/types';
import { countText, measuredRange, placeText } from '../group';
import { activationOf, fmt, isNormalized, isOutputLayer, NORMALIZATIONS, schemeFor, weightOf, type DiagnosisContext, type Rule } from '../rule';

const SCHEME_NAME = { he: 'He', lecun: 'LeCun', xavier: 'Xavier' } as const;
const SCHEME_VAR = { he: 2, lecun: 1 } as const;

/** A standard init scheme and the weight variance it gives this parameter. */
export interface InitScheme {
  name: string;
  variance: number;
}

/**
 * The standard schemes' variances for a weight, with PyTorch's fans (fan_in = shape[1] x kernel,
 * fan_out = shape[0] x kernel for a convolution, whatever its groups): He (Kaiming normal) in
 * fan-in and fan-out mode (torchvision's convolutions), LeCun, Xavier/Glorot, and PyTorch's
 * default for Linear and Conv (kaiming_uniform with a = sqrt(5): Var = 1 / (3 fan_in)).
 */
export function initSchemes(p: ParameterReport): InitScheme[] {
  const fanIn = p.fanIn!;
  const kernel = p.shape.slice(2).reduce((a, b) => a * b, 1);
  const fanOut = p.shape.length >= 3 ? p.shape[0] * kernel : p.fanOut ?? fanIn;
  const all: InitScheme[] = [
    { name: 'He (fan-in)', variance: 2 / fanIn },
    { name: 'LeCun', variance: 1 / fanIn },
    { name: 'Xavier', variance: 2 / (fanIn + fanOut) },
    { name: 'PyTorch\'s default (kaiming_uniform, a = sqrt(5))', variance: 1 / (3 * fanIn) },
    { name: 'He (fan-out)', variance: 2 / fanOut },
  ];
  // schemes that coincide for this shape (He fan-in and fan-out of a square layer) are one
  const out: InitScheme[] = [];
  for (const s of all) {
    const same = out.find((o) => Math.abs(o.variance - s.variance) <= 1e-9 * s.variance);
    if (same) same.name += ` = ${s.name}`;
    else out.push({ ...s });
  }
  return out;
}

/** The scheme a weight most plausibly comes from: the nearest in log variance, if within `tolerance` (a variance factor). */
export function plausibleScheme(p: ParameterReport, tolerance: number): (InitScheme & { factor: number }) | undefined {
  if (p.fanIn === undefined || p.variance === null || !(p.variance > 0)) return undefined;
  let best: (InitScheme & { factor: number }) | undefined;
  for (const s of initSchemes(p)) {
    const factor = p.variance / s.variance;
    if (!best || Math.abs(Math.log(factor)) < Math.abs(Math.log(best.factor))) best = { ...s, factor };
  }
  return best && Math.abs(Math.log(best.factor)) <= Math.log(tolerance) ? best : undefined;
}

/** True when a weight is exactly zero (a deliberate zero init, or a pruned tensor). */
export function isZero(p: ParameterReport): boolean {
  return p.norm === 0;
}

/**
 * The layers of a plain stack (no residual join, no normalisation in the graph) whose weights
 * set the signal's scale, and the mean-field gain of the stack at init: the product over its
 * layers of sqrt(Var(w) / the critical variance for the activation) (README "Thresholds":
 * gradients scale like chi^(L/2)). Undefined for networks with skips or normalisation, where a
 * layer's scale does not compound through depth.
 */
function plainStack(ctx: DiagnosisContext): { layers: Array<{ layer: LayerReport; p: ParameterReport; chi: number }>; gain: number } | undefined {
  if (ctx.facts.residualJoins.length > 0 || [...ctx.facts.opTypes].some((op) => NORMALIZATIONS.has(op))) return undefined;
  const layers: Array<{ layer: LayerReport; p: ParameterReport; chi: number }> = [];
  for (const l of ctx.report.layers) {
    const p = weightOf(ctx, l);
    const chi = p?.varianceRatio?.[schemeFor(activationOf(l))];
    if (p && chi !== undefined && chi > 0) layers.push({ layer: l, p, chi });
  }
  if (layers.length < 2) return undefined;
  return { layers, gain: Math.exp(layers.reduce((a, x) => a + 0.5 * Math.log(x.chi), 0)) };
}

export const misScaledInit: Rule = {
  id: 'mis-scaled-init',
  title: 'a weight whose variance matches no standard init scheme, or whose scheme is wrong for its activation and the depth of a plain stack',
  check(ctx) {
    const t = ctx.thresholds.initVarianceRatio;
    const tol = ctx.thresholds.initSchemeMatch;
    const th = ctx.thresholds;
    const stack = plainStack(ctx);
    const compounds = stack && (stack.gain < th.vanishingGradientWarning || stack.gain > th.explodingGradientWarning) ? stack : undefined;
    const out: Finding[] = [];
    for (const l of ctx.report.layers) {
      // A normalisation right after the weight makes the layer scale-invariant: its init scale is harmless.
      if (isNormalized(l)) continue;
      const act = activationOf(l);
      const scheme = schemeFor(act);
      const output = isOutputLayer(ctx, l) || feedsOnlySoftmax(ctx, l);
      for (const name of l.parameters) {
        const p = ctx.report.parameters.find((q) => q.name === name);
        const ratio = p?.varianceRatio?.[scheme];
        if (!p || ratio === undefined || p.fanIn === undefined || isZero(p)) continue;
        const matched = plausibleScheme(p, tol);
        const over = ratio > 1;
        // The layer before the softmax sets the initial logits' scale: a small one is a deliberate
        // choice (a near-uniform first prediction) and does not compound through depth.
        if (output && !over) continue;
        const unmatched = !matched && (ratio > t || ratio < 1 / t);
        const inStack = compounds?.layers.some((x) => x.p === p) && (compounds.gain < 1 ? ratio < 1 / tol : ratio > tol);
        if (!unmatched && !inStack) continue;
        const std = Math.sqrt(SCHEME_VAR[scheme] / p.fanIn);
        const which = matched ? `matches ${matched.name}${Math.abs(Math.log(matched.factor)) > Math.log(1.05) ? ` (${fmt(matched.factor)}x its variance)` : ''}` : 'matches no standard init scheme (He fan-in or fan-out, LeCun, Xavier, PyTorch\'s default)';
        const depth = inStack ? ` On this plain stack of ${compounds!.layers.length} layers without skip connections or normalisation, each such layer keeps ${fmt(ratio)} of the signal's second moment, compounding to a gain of ${fmt(compounds!.gain)} over the stack at init.` : '';
        out.push({
          id: `mis-scaled-init:${p.name}`,
          rule: 'mis-scaled-init',
          severity: 'warning',
          layer: l.name,
          parameter: p.name,
          message: `Mis-scaled initialisation: ${p.name} has variance ${fmt(ratio)}x the ${SCHEME_NAME[scheme]} expectation for fan-in ${p.fanIn}${act ? ` and ${act}` : ''}; it ${which}.${depth}`,
          measured: ratio,
          measuredName: `Var(w) / ${SCHEME_NAME[scheme]} variance`,
          threshold: unmatched ? (over ? t : 1 / t) : (compounds!.gain < 1 ? th.vanishingGradientWarning : th.explodingGradientWarning),
          thresholdName: unmatched ? 'initVarianceRatio' : compounds!.gain < 1 ? 'vanishingGradientWarning' : 'explodingGradientWarning',
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

/** True when every consumer of the layer's outputs is a Softmax or LogSoftmax (the classifier before its softmax). */
function feedsOnlySoftmax(ctx: DiagnosisContext, l: LayerReport): boolean {
  const users = l.outputTensors.flatMap((o) => ctx.facts.consumers.get(o) ?? []).filter((n) => !l.nodes.includes(n.name));
  return users.length > 0 && users.every((n) => n.opType === 'Softmax' || n.opType === 'LogSoftmax');
}

/** Where a zero weight sits: the model's output layer (a zero head) or the last layer of a residual branch. */
function zeroPlace(ctx: DiagnosisContext, l: LayerReport): 'head' | 'branch' | undefined {
  if (isOutputLayer(ctx, l) || feedsOnlySoftmax(ctx, l)) return 'head';
  // The branch input of a residual join, followed back through weight-free elementwise nodes, is produced by this layer.
  const inLayer = new Set(l.nodes);
  for (const j of ctx.facts.residualJoins) {
    let t: string | undefined = j.node.inputs[j.branch];
    for (let hops = 0; t && hops < 4; hops++) {
      const prod = ctx.facts.producer.get(t);
      if (!prod) break;
      if (inLayer.has(prod.name)) return 'branch';
      if (!['Mul', 'Identity', 'Dropout', 'BatchNormalization', 'Relu', 'Cast'].includes(prod.opType)) break;
      t = prod.inputs[0];
    }
  }
  return undefined;
}

/**
 * A layer's weight matrix or kernel, also when the exporter deduplicated it (an Identity copy of
 * another initializer, read by the layer's node but not listed among its parameters).
 */
function zeroCandidate(ctx: DiagnosisContext, l: LayerReport): ParameterReport | undefined {
  const read = new Set([...l.parameters, ...l.nodes.flatMap((n) => ctx.facts.nodeByName.get(n)?.inputs ?? [])]);
  return ctx.report.parameters.find((p) => read.has(p.name) && p.fanIn !== undefined && p.shape.length >= 2);
}

/** The zero-initialised head, if the model has one: its gradient below is exactly zero at init by design. */
export function zeroHead(ctx: DiagnosisContext): LayerReport | undefined {
  return ctx.report.layers.find((l) => {
    const w = zeroCandidate(ctx, l);
    return w !== undefined && isZero(w) && zeroPlace(ctx, l) === 'head';
  });
}

export const zeroInit: Rule = {
  id: 'zero-init',
  title: 'an all-zero weight: a deliberate zero head or zero residual branch (info), or a layer that passes no signal',
  check(ctx) {
    const out: Finding[] = [];
    for (const l of ctx.report.layers) {
      const w = zeroCandidate(ctx, l);
      if (!w || !isZero(w)) continue;
      const place = zeroPlace(ctx, l);
      const base = { rule: 'zero-init', layer: l.name, parameter: w.name, measured: 0, measuredName: `norm of ${w.name}` };
      if (place === 'head') {
        out.push({
          ...base,
          id: `zero-init:${w.name}`,
          severity: 'info',
          message: `Zero-initialised head: ${w.name} is all zeros, a deliberate choice (as torchvision's ViT does): the first prediction is uniform, and the gradient below ${l.name} is exactly zero at init, not vanishing.`,
          why: 'With the head at zero, only its own weight gets a gradient at step 0 (the features times the output error). The first update makes it nonzero, and from the second step on the gradient reaches every layer below it.',
          expect: 'After one update the gradient below the head is nonzero; analyse a checkpoint after a few steps to see the flow through the rest of the network.',
        });
      } else if (place === 'branch') {
        out.push({
          ...base,
          id: `zero-init:${w.name}`,
          severity: 'info',
          message: `Zero-initialised residual branch: ${w.name} is all zeros (as zero_init_residual or SkipInit do), so its block starts as the identity.`,
          why: 'A residual block whose branch ends at zero passes its input unchanged: the network starts shallower and its gradients flow through the identity path. The branch\'s last weight gets a gradient at step 0, and its first update switches the branch on.',
          expect: 'After the first updates the branch contributes and the layers inside it get gradients.',
        });
      } else {
        out.push({
          ...base,
          id: `zero-init:${w.name}`,
          severity: 'warning',
          message: `Zero weight: ${w.name} of ${l.name} is all zeros, and it is neither the model's head nor the end of a residual branch: no signal passes it, and every unit after it starts identical.`,
          why: 'A zero weight in the middle of the network blocks the signal and the gradient below it, and gives every unit of the layer the same gradient: they never differ.',
          fix: `Initialise ${w.name} with the scheme that suits ${l.name}'s activation (He for ReLU-like, LeCun otherwise).`,
          expect: 'The layer passes signal, and the gradient reaches the layers below it.',
        });
      }
    }
    return out;
  },
  group: {
    title: 'Zero-initialised weights',
    summary: (ms) => `${countText(ms, ['weight', 'weights'], (m) => m.parameter)} are all zeros`,
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
