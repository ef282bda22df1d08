import type { Node } from '../../onnx/types';
import type { Finding, NumericRange } from '../../report/types';
import { countText, measuredRange } from '../group';
import { fmt, type DiagnosisContext, type Rule } from '../rule';

const GUARD: Record<string, string> = {
  Log: 'log(max(x, eps)) or log(x + eps) with eps ~ 1e-6 (or compute it in log space: LogSoftmax, log-sum-exp)',
  Sqrt: 'sqrt(max(u, 0)) or sqrt(u + eps)',
  Pow: 'pow(max(u, eps), p) for a fractional exponent p',
  Div: 'x / (y + eps * sign(y)) or x / max(|y|, eps)',
  Reciprocal: '1 / (y + eps * sign(y))',
};

/** Where the input leaves the op's domain on the samples (error) or comes within the floor of its edge (warning). */
function domainBreach(r: NumericRange, floor: number): { severity: 'error' | 'warning'; what: string; measured: number } | undefined {
  const nonFinite = r.nan ? 'NaN' : r.negInf ? '-inf' : r.posInf ? '+inf' : undefined;
  switch (r.opType) {
    case 'Log':
      if (r.min !== null && r.min <= 0) return { severity: 'error', what: `reaches ${fmt(r.min)} (log is -inf at 0 and NaN below)`, measured: r.min };
      if (r.negInf) return { severity: 'error', what: 'reaches -inf', measured: -Infinity };
      if (r.min !== null && r.min < floor) return { severity: 'warning', what: `comes within ${fmt(r.min)} of 0`, measured: r.min };
      return undefined;
    case 'Sqrt':
    case 'Pow':
      if (r.min !== null && r.min < 0) return { severity: 'error', what: `reaches ${fmt(r.min)} (NaN below 0${r.opType === 'Pow' ? ' for a fractional exponent' : ''})`, measured: r.min };
      if (r.min !== null && r.min < floor) return { severity: 'warning', what: `comes within ${fmt(r.min)} of 0, where the derivative is infinite`, measured: r.min };
      return undefined;
    default: // Div's divisor, Reciprocal
      if (r.minAbs !== null && r.minAbs === 0) return { severity: 'error', what: 'reaches exactly 0', measured: 0 };
      if (r.minAbs !== null && r.minAbs < floor) return { severity: 'warning', what: `comes within ${fmt(r.minAbs)} of 0`, measured: r.minAbs };
      if (r.min !== null && r.max !== null && r.min < 0 && r.max > 0) return { severity: 'warning', what: `changes sign (from ${fmt(r.min)} to ${fmt(r.max)}), so it crosses 0 between the samples`, measured: r.minAbs ?? 0 };
      return nonFinite ? { severity: 'error', what: `holds ${nonFinite}`, measured: NaN } : undefined;
  }
}

function layerOfNode(ctx: DiagnosisContext, node: string): string | undefined {
  return ctx.report.layers.find((l) => l.nodes.includes(node))?.name;
}

export const domainHazard: Rule = {
  id: 'numeric-domain',
  title: 'Log, Sqrt, fractional Pow, Div or Reciprocal whose input reaches zero or below on the samples',
  check(ctx) {
    const out: Finding[] = [];
    for (const r of ctx.report.numerics ?? []) {
      if (r.opType === 'Softmax') continue;
      const b = domainBreach(r, ctx.thresholds.divisorFloor);
      if (!b) continue;
      const operand = r.opType === 'Div' ? 'divisor' : 'input';
      out.push({
        id: `numeric-domain:${r.node}`,
        rule: 'numeric-domain',
        severity: b.severity,
        layer: layerOfNode(ctx, r.node),
        node: r.node,
        tensor: r.tensor,
        message: `Numeric hazard: the ${operand} of ${r.opType} node ${r.node} (${r.tensor}) ${b.what} on the samples.`,
        measured: Number.isFinite(b.measured) ? b.measured : undefined,
        measuredName: r.opType === 'Div' || r.opType === 'Reciprocal' ? `smallest |${operand}|` : `smallest ${operand}`,
        threshold: b.severity === 'warning' ? ctx.thresholds.divisorFloor : 0,
        thresholdName: b.severity === 'warning' ? 'divisorFloor' : undefined,
        why: `Outside its domain ${r.opType} gives NaN or Inf, and near the edge its derivative blows up: one bad batch poisons every weight.`,
        fix: `Guard it: ${GUARD[r.opType]}.`,
        expect: 'The op stays finite, with a bounded derivative, on every input.',
      });
    }
    return out;
  },
};

/** The decomposed softmaxes: Div(Exp(x), ReduceSum(Exp(x))), and whether Exp's input subtracts a max first. */
function decomposedSoftmaxes(ctx: DiagnosisContext): Array<{ exp: Node; div: Node; stable: boolean }> {
  const { producer, consumers } = ctx.facts;
  const out: Array<{ exp: Node; div: Node; stable: boolean }> = [];
  for (const exp of ctx.model.graph.nodes.filter((n) => n.opType === 'Exp')) {
    const users = consumers.get(exp.outputs[0]) ?? [];
    const sum = users.find((n) => n.opType === 'ReduceSum');
    const div = users.find((n) => n.opType === 'Div' && n.inputs[0] === exp.outputs[0] && sum && producer.get(n.inputs[1]) === sum);
    if (!div) continue;
    const sub = producer.get(exp.inputs[0]);
    const stable = sub?.opType === 'Sub' && ['ReduceMax', 'Max'].includes(producer.get(sub.inputs[1])?.opType ?? '');
    out.push({ exp, div, stable });
  }
  return out;
}

export const unstableSoftmax: Rule = {
  id: 'unstable-softmax',
  title: 'softmax written as exp / sum(exp) without subtracting the max',
  check(ctx) {
    return decomposedSoftmaxes(ctx).filter((s) => !s.stable).map((s) => ({
      id: `unstable-softmax:${s.exp.name}`,
      rule: 'unstable-softmax',
      severity: 'warning' as const,
      layer: layerOfNode(ctx, s.exp.name),
      node: s.exp.name,
      tensor: s.exp.inputs[0],
      message: `Numeric hazard: ${s.exp.name} .. ${s.div.name} compute softmax as exp(x) / sum(exp(x)) without subtracting max(x) first.`,
      why: 'exp overflows float32 for inputs above 88 (float16: 11), giving inf / inf = NaN.',
      fix: 'Use the Softmax op (torch.softmax), or subtract the row max before Exp: exp(x - max(x)) / sum(exp(x - max(x))).',
      expect: 'The same values, finite for any input scale.',
    }));
  },
  group: {
    title: 'Unstable softmaxes',
    summary: (ms) => `${countText(ms, ['softmax', 'softmaxes'], (m) => m.node)} compute exp(x) / sum(exp(x)) without subtracting max(x) first`,
  },
};

export const logOfSoftmax: Rule = {
  id: 'log-of-softmax',
  title: 'log(softmax(x)) instead of LogSoftmax',
  check(ctx) {
    const { producer } = ctx.facts;
    const decomposed = new Set(decomposedSoftmaxes(ctx).map((s) => s.div));
    return ctx.model.graph.nodes
      .filter((n) => n.opType === 'Log')
      .map((log) => ({ log, src: producer.get(log.inputs[0]) }))
      .filter((x): x is { log: Node; src: Node } => x.src !== undefined && (x.src.opType === 'Softmax' || decomposed.has(x.src)))
      .map(({ log, src }) => ({
        id: `log-of-softmax:${log.name}`,
        rule: 'log-of-softmax',
        severity: 'warning' as const,
        layer: layerOfNode(ctx, log.name),
        node: log.name,
        tensor: log.inputs[0],
        message: `Numeric hazard: ${log.name} takes the log of a softmax (${src.name}).`,
        why: 'Softmax underflows to 0 for unlikely classes, and log(0) = -inf: precision is lost exactly where the loss needs it.',
        fix: 'Use LogSoftmax (torch.log_softmax), which computes x - logsumexp(x) directly.',
        expect: 'The same values where finite, and finite log-probabilities for unlikely classes.',
      }));
  },
  group: {
    title: 'Logs of softmaxes',
    summary: (ms) => `${countText(ms, ['node takes', 'nodes take'], (m) => m.node)} the log of a softmax`,
  },
};

export const maskedRow: Rule = {
  id: 'fully-masked-row',
  title: 'a softmax row that is entirely -inf (a causal or padding mask that hides everything)',
  check(ctx) {
    return (ctx.report.numerics ?? []).filter((r) => r.opType === 'Softmax' && (r.maskedRows ?? 0) > 0).map((r) => ({
      id: `fully-masked-row:${r.node}`,
      rule: 'fully-masked-row',
      severity: 'error' as const,
      layer: layerOfNode(ctx, r.node),
      node: r.node,
      tensor: r.tensor,
      message: `Numeric hazard: ${r.maskedRows} of ${r.rows} rows of the input of Softmax ${r.node} are entirely -inf on the samples.`,
      measured: r.maskedRows,
      measuredName: 'rows entirely -inf',
      threshold: 0,
      why: 'Softmax of a row of -inf is 0/0 = NaN, which then spreads to every output and gradient; -inf in some positions of a row (a causal mask) is fine.',
      fix: 'Make sure every query attends to at least one position (e.g. let a padded query attend to itself), or use a large negative finite value such as -1e4 instead of -inf.',
      expect: 'No NaN leaves the attention.',
    }));
  },
  group: {
    title: 'Fully masked rows',
    summary: (ms) => `${countText(ms, ['Softmax has', 'Softmaxes have'], (m) => m.node)} ${measuredRange(ms)} input rows entirely -inf on the samples`,
  },
};

export const nonFinite: Rule = {
  id: 'non-finite',
  title: 'NaN or Inf in weights or activations, with the first node that produces it',
  check(ctx) {
    return ctx.report.nonFinite.map((n) => ({
      id: `non-finite:${n.tensor}`,
      rule: 'non-finite',
      severity: 'error' as const,
      layer: n.node ? layerOfNode(ctx, n.node) : undefined,
      node: n.node,
      tensor: n.tensor,
      parameter: n.where === 'weight' ? n.tensor : undefined,
      message: n.where === 'weight'
        ? `NaN or Inf in the weight ${n.tensor}${n.node ? ` (read by ${n.node})` : ''}.`
        : `NaN or Inf first appears in ${n.tensor}, the output of ${n.node ?? 'an unnamed node'}, on the samples.`,
      why: 'A single NaN spreads to every output and every gradient: the model cannot train or predict.',
      fix: n.where === 'weight' ? `Reload ${n.tensor} from a good checkpoint (a diverged training run writes NaN weights); lower the learning rate and clip gradients.`
        : `Look at the inputs of ${n.node ?? 'that node'}: guard the op's domain (see the numeric-domain findings) or fix the upstream values.`,
      expect: 'Every activation and gradient is finite.',
    }));
  },
  group: {
    title: 'NaN or Inf',
    summary: (ms) => `${countText(ms, ['tensor holds', 'tensors hold'], (m) => m.tensor)} NaN or Inf on the samples`,
  },
};
