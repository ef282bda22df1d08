import type { Model, Node } from '../onnx/types';
import type { AnalysisReport, Finding, LayerReport, ParameterReport } from '../report/types';
import type { GroupSpec } from './group';
import type { Thresholds } from './thresholds';

/** What the user trains with, when they say (settings, config file, flags). */
export interface TrainingFacts {
  learningRate?: number;
  weightDecay?: number;
}

/** Everything a rule may read: the engine's report, the model's graph, thresholds and training facts. */
export interface DiagnosisContext {
  report: AnalysisReport;
  model: Model;
  thresholds: Thresholds;
  training: TrainingFacts;
  facts: GraphFacts;
}

/** A diagnosis rule: pure, small, one concern (DOMAIN.md section 10's words). */
export interface Rule {
  /** The stable id findings carry, e.g. `vanishing-gradient`. */
  id: string;
  /** One line for the README's rule table. */
  title: string;
  check(ctx: DiagnosisContext): Finding[];
  /** How its findings on several layers read as one; without it each finding stands alone. */
  group?: GroupSpec;
}

/** Facts about the graph that several rules share, computed once. */
export interface GraphFacts {
  nodeByName: Map<string, Node>;
  producer: Map<string, Node>;
  consumers: Map<string, Node[]>;
  /** Add/Sum nodes joining a tensor with something computed from it (x + F(x)): which input is the branch F(x). */
  residualJoins: Array<{ node: Node; branch: number }>;
  /** Op types present in the graph. */
  opTypes: Set<string>;
}

export const ACTIVATIONS = new Set(['Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Softplus', 'Softsign', 'Gelu', 'HardSigmoid', 'HardSwish', 'Mish', 'Clip']);
export const NORMALIZATIONS = new Set(['BatchNormalization', 'LayerNormalization', 'InstanceNormalization', 'GroupNormalization', 'MeanVarianceNormalization', 'LpNormalization']);
const RELU_LIKE = new Set(['Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Gelu', 'HardSwish', 'Mish', 'Clip']);

export function graphFacts(model: Model): GraphFacts {
  const nodes = model.graph.nodes;
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const constant = (t: string) => model.graph.initializers.has(t) || producer.get(t)?.opType === 'Constant';
  // ancestors by tensor, memoised (the graph is a DAG)
  const memo = new Map<string, Set<string>>();
  const ancestors = (t: string): Set<string> => {
    const hit = memo.get(t);
    if (hit) return hit;
    const out = new Set<string>();
    memo.set(t, out);
    const stack = [t];
    while (stack.length) {
      const x = stack.pop()!;
      const p = producer.get(x);
      if (!p) continue;
      for (const i of p.inputs) {
        if (!i || out.has(i) || constant(i)) continue;
        out.add(i);
        stack.push(i);
      }
    }
    return out;
  };
  // A residual join adds two paths that fork from a common tensor: x + F(x), or a projection
  // shortcut P(x) + F(x). The branch F is the input with the longer history.
  const residualJoins: GraphFacts['residualJoins'] = [];
  for (const n of nodes) {
    if ((n.opType !== 'Add' && n.opType !== 'Sum') || n.inputs.length !== 2) continue;
    const [a, b] = n.inputs;
    if (!a || !b || constant(a) || constant(b)) continue;
    const [ha, hb] = [ancestors(a), ancestors(b)];
    const forked = ha.has(b) || hb.has(a) || [...ha].some((t) => hb.has(t));
    if (forked) residualJoins.push({ node: n, branch: hb.size > ha.size ? 1 : 0 });
  }
  return {
    nodeByName: new Map(nodes.map((n) => [n.name, n])),
    producer,
    consumers,
    residualJoins,
    opTypes: new Set(nodes.map((n) => n.opType)),
  };
}

/** The elementwise activation that ends a layer, if it has one. */
export function activationOf(layer: LayerReport): string | undefined {
  return [...layer.opTypes].reverse().find((op) => ACTIVATIONS.has(op));
}

/** True when the layer normalises its output (a scale-invariant layer: its weight scale does not matter). */
export function isNormalized(layer: LayerReport): boolean {
  return layer.opTypes.some((op) => NORMALIZATIONS.has(op));
}

/**
 * Whether the model normalises its activations as it trains: a normalisation node in the analysed
 * layers (LayerNorm, BatchNorm with trained or batch statistics, ...), or BatchNorm the exporter
 * folded and the analysis re-inserted. Then a layer's output scale is reset at every normalisation,
 * so one layer's gain does not compound through depth: the training table (README "Does it train?")
 * has BatchNorm networks that train with single layers at sigma_max 9 and rms gain 0.18, while every
 * model that does not train is caught by its gradient flow.
 */
export function normalisesActivations(ctx: DiagnosisContext): boolean {
  return ctx.report.layers.some(isNormalized) || ctx.report.run.batchNorm?.mode === 'batch';
}

/** The init scheme that suits an activation (DOMAIN.md section 5): He for ReLU-like, LeCun otherwise. */
export function schemeFor(activation: string | undefined): 'he' | 'lecun' {
  return activation && RELU_LIKE.has(activation) ? 'he' : 'lecun';
}

/** The weight of a layer: its first parameter with fans (the matrix or kernel). */
export function weightOf(ctx: DiagnosisContext, layer: LayerReport): ParameterReport | undefined {
  for (const name of layer.parameters) {
    const p = ctx.report.parameters.find((q) => q.name === name);
    if (p?.fanIn !== undefined && p.varianceRatio) return p;
  }
  return undefined;
}

/** True when a layer's output is one of the model's outputs (its activation is part of the model's contract). */
export function isOutputLayer(ctx: DiagnosisContext, layer: LayerReport): boolean {
  const outs = new Set(ctx.model.graph.outputs.map((o) => o.name));
  return layer.outputTensors.some((t) => outs.has(t));
}

/** The node of a layer whose op type is `op`. */
export function nodeOf(ctx: DiagnosisContext, layer: LayerReport, op: string): Node | undefined {
  return layer.nodes.map((n) => ctx.facts.nodeByName.get(n)).find((n) => n?.opType === op);
}

/** A number for a message: three significant digits, exponent form when tiny or huge. */
export function fmt(x: number): string {
  if (x === 0 || !Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 1e4 || a < 1e-3 ? x.toExponential(2) : String(Number(x.toPrecision(3)));
}
