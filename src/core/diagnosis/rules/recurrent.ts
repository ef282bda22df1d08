import { propagateShapes } from '../../analysis/memory';
import { tensorToFloat64 } from '../../onnx/tensorData';
import { getAttribute, type Node } from '../../onnx/types';
import type { Finding, ParameterReport } from '../../report/types';
import { countText, measuredRange } from '../group';
import { fmt, type DiagnosisContext, type Rule } from '../rule';

/** The number of steps a recurrent node runs at the samples (its input's sequence axis), when the shapes say. */
function sequenceLength(ctx: DiagnosisContext, node: Node): number | undefined {
  try {
    const dims = new Map(ctx.report.run.sampleInputs.map((s) => [s.input, s.dims]));
    const x = propagateShapes(ctx.model, dims).get(node.inputs[0]);
    const layout = getAttribute(node, 'layout');
    const t = x?.length === 3 ? x[layout?.type === 'int' && layout.value === 1 ? 1 : 0] : undefined;
    return t !== undefined && Number.isInteger(t) && t > 1 ? t : undefined;
  } catch {
    return undefined;
  }
}

/** The gated cell's per-step memory at zero pre-activation: sigmoid of the forget (LSTM) or update (GRU) gate's bias, averaged over units. */
function keepFromBias(ctx: DiagnosisContext, node: Node, p: ParameterReport): { gate: string; keep: number } | undefined {
  const b = node.inputs[3] ? ctx.model.graph.initializers.get(node.inputs[3]) : undefined;
  const h = p.shape[2];
  if (!b || b.dims.length !== 2 || b.dims[1] !== 2 * (node.opType === 'LSTM' ? 4 : 3) * h) return undefined;
  const data = tensorToFloat64(b);
  if (data.length < b.dims[1]) return undefined;
  // ONNX gate order: LSTM i, o, f, c; GRU z, r, h. Wb and Rb are added.
  const [gate, block] = node.opType === 'LSTM' ? ['forget', 2] : ['update', 0];
  const gates = node.opType === 'LSTM' ? 4 : 3;
  let keep = 0;
  for (let u = 0; u < h; u++) {
    const z = data[block * h + u] + data[(gates + block) * h + u];
    keep += 1 / (1 + Math.exp(-z));
  }
  return { gate, keep: keep / h };
}

export const recurrentSpectralRadius: Rule = {
  id: 'recurrent-spectral-radius',
  title: 'the gradient through time over the sequence the recurrent layer runs: measured, or the recurrent weight\'s spectral radius to the power of the steps',
  check(ctx) {
    const t = ctx.thresholds;
    const out: Finding[] = [];
    for (const p of ctx.report.parameters) {
      if (!p.recurrentGates?.length) continue;
      const layer = ctx.report.layers.find((l) => l.parameters.includes(p.name));
      const node = ctx.model.graph.nodes.find((n) => ['LSTM', 'GRU', 'RNN'].includes(n.opType) && n.inputs[2] === p.name);
      const gated = node?.opType === 'LSTM' || node?.opType === 'GRU';
      const gates = p.recurrentGates.map((g) => `${g.gate} ${fmt(g.spectralRadius)}`).join(', ');
      const steps = node ? sequenceLength(ctx, node) : undefined;
      const series = layer?.throughTime?.hiddenGradNorms;
      const measured = series && series.length > 1 && series[series.length - 1] > 0 ? series[0] / series[series.length - 1] : undefined;
      const radius = Math.max(...p.recurrentGates.map((g) => g.spectralRadius));
      // Time is depth (README "Recurrent networks"): over T steps the gradient is multiplied T - 1
      // times by the step's Jacobian. A plain RNN's is diag(tanh') W, so it scales like rho(W)^(T-1)
      // (tanh' <= 1 only shrinks it). A gated cell's memory path (LSTM c_t = f c_{t-1} + ...; GRU
      // h_t = z h_{t-1} + ...) is multiplied by its forget/update gate instead: the recurrent
      // weight's radius does not govern it, so gated cells are judged on the measured gradient only.
      const predicted = !gated && steps !== undefined ? radius ** (steps - 1) : undefined;
      const factor = measured ?? predicted;
      const n = measured !== undefined ? series!.length : steps;
      const keep = gated && node ? keepFromBias(ctx, node, p) : undefined;
      const level = (x: number | undefined): 'error' | 'warning' | undefined => x === undefined ? undefined
        : x < t.vanishingGradientError || x > t.explodingGradientError ? 'error'
        : x < t.vanishingGradientWarning || x > t.explodingGradientWarning ? 'warning' : undefined;
      // Without the number of steps or a measured series: the bare radius band.
      const bareHi = factor === undefined && !gated && radius > t.recurrentRadiusHigh;
      const bareLo = factor === undefined && !gated && radius < t.recurrentRadiusLow;
      const severity = level(factor) ?? (bareHi || bareLo ? 'warning' : 'info');
      const vanishing = factor !== undefined ? factor < 1 : bareLo;
      const judged = severity !== 'info';
      const what = measured !== undefined
        ? ` Through time, the gradient at the first step is ${fmt(measured)}x the gradient at the last (${n} steps, measured).`
        : predicted !== undefined ? ` Over the ${steps} steps it runs at the samples, the gradient through time scales like ${Number(radius.toPrecision(4))}^${steps! - 1} = ${fmt(predicted)}.` : '';
      const cell = keep ? ` Its ${keep.gate} gate keeps ${fmt(keep.keep)} of the ${node!.opType === 'LSTM' ? 'cell state' : 'hidden state'} a step at zero input (from its bias), ${fmt(keep.keep ** Math.max(1, (n ?? 2) - 1))} over ${n ?? 2} steps: that, not the recurrent weight's radius, sets how far the memory path carries a gradient.` : '';
      const verdict = !judged ? ''
        : factor !== undefined ? ` ${vanishing ? 'The first steps barely influence learning: long-range gradients vanish' : 'Gradients through time explode'} (${vanishing ? 'below' : 'above'} ${fmt(vanishing ? (severity === 'error' ? t.vanishingGradientError : t.vanishingGradientWarning) : (severity === 'error' ? t.explodingGradientError : t.explodingGradientWarning))}, the gradient-ratio threshold).`
        : bareHi ? ` The radius exceeds ${t.recurrentRadiusHigh}: gradients through time explode over long sequences.` : ` The radius is below ${t.recurrentRadiusLow}: long-range gradients vanish.`;
      const thresholdName = factor !== undefined
        ? (vanishing ? (severity === 'error' ? 'vanishingGradientError' : 'vanishingGradientWarning') : (severity === 'error' ? 'explodingGradientError' : 'explodingGradientWarning'))
        : bareHi ? 'recurrentRadiusHigh' : bareLo ? 'recurrentRadiusLow' : undefined;
      out.push({
        rule: 'recurrent-spectral-radius',
        layer: layer?.name,
        parameter: p.name,
        why: gated
          ? 'Backpropagation through time multiplies by the step\'s Jacobian at every step; a gated cell\'s memory path is scaled by its forget (or update) gate, so the measured gradient through time, not the recurrent weight\'s radius, says how far back it learns.'
          : 'Backpropagation through time multiplies by the recurrent weight at every step: over T steps the gradient scales like its spectral radius to the power T - 1, vanishing below 1 and exploding above.',
        id: `recurrent-spectral-radius:${p.name}`,
        severity,
        message: `Recurrent weight ${p.name}: spectral radius per gate ${gates}.${what}${cell}${verdict}`,
        measured: judged && factor !== undefined ? factor : radius,
        measuredName: judged && factor !== undefined ? (measured !== undefined ? 'gradient through time, first step / last step' : 'spectral radius to the power of the steps') : 'largest gate spectral radius',
        threshold: thresholdName ? t[thresholdName] : undefined,
        thresholdName,
        fix: !judged ? undefined
          : !vanishing ? `Scale ${p.name} to spectral radius 0.95 (factor ${fmt(0.95 / radius)}) or initialise it orthogonally (radius 1), and clip the gradient norm.`
          : `Initialise the recurrent weights orthogonally (radius 1)${node?.opType === 'LSTM' ? ' and set the forget-gate bias to 1 or more (the cell then keeps its state by default)' : ''}; truncate backpropagation through time to the horizon the gradient survives.`,
        expect: judged ? 'The gradient through time stays within the gradient-ratio thresholds over the sequence.' : undefined,
      });
    }
    return out;
  },
  group: {
    title: 'Recurrent weights',
    summary: (ms) => `${countText(ms, ['recurrent weight', 'recurrent weights'], (m) => m.parameter)}, gradient through time ${measuredRange(ms)}`,
  },
};
