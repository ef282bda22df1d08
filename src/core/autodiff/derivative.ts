import { DoctorError } from '../errors';
import { DataType, getAttribute, type Graph, type Model, type Node, type Tensor, type ValueInfo } from '../onnx/types';
import { tensorToFloat64 } from '../onnx/tensorData';
import { GraphBuilder } from './builder';
import { implicitInputs } from './controlFlow';
import { zerosLike } from './helpers';
import { NON_DIFFERENTIABLE, REGISTRY } from './registry';
import { UnsupportedDerivative, type DerivativeRule, type Derivs, type RuleContext } from './rule';

/** Static facts about every primal tensor at the sample, from a forward pass. */
export interface PrimalFacts {
  shape(name: string): number[] | undefined;
  dtype(name: string): DataType | undefined;
  /** The tensor's value at the sample, when known (index and shape inputs of rules). */
  value?(name: string): Float64Array | undefined;
  /** A finite-difference slope f'(x) for an elementwise node without a rule, when one was computed. */
  slope?(node: Node): Float64Array | undefined;
  /** A finite-difference local Jacobian (m x n) of another node without a rule, when one was computed. */
  localJacobian?(node: Node): { matrix: Float64Array; m: number; n: number } | undefined;
}

/** A span of the graph: derivatives of `targets` with respect to `sources`. */
export interface Span {
  sources: string[];
  targets: string[];
}

/** A derivative model and how to feed and read it. */
export interface DerivativeModel {
  model: Model;
  /** Derivative inputs, one per source (JVP) or target (VJP), batched [K, ...shape]. */
  derivativeInputs: string[];
  /** Derivative outputs, one per target (JVP) or source and extra tensor (VJP). */
  derivativeOutputs: string[];
  /** Forward values to feed by their own names. */
  primalInputs: string[];
  /** The nodes of the original graph whose rules were used. */
  nodes: Node[];
  /** Op types whose derivative is a finite-difference slope (figures from this model are estimates). */
  estimated: string[];
}

/**
 * The derivative model with its batch dimension K fixed to `k`, for a model always run with
 * batches of that size: onnxruntime compiles a graph of thousands of nodes several times faster
 * when no dimension is symbolic (densenet121's forward-over-reverse model, 10k nodes: 6.3 s -> 1.6 s).
 */
export function withBatchSize(dm: DerivativeModel, k: number): DerivativeModel {
  const fix = (v: ValueInfo): ValueInfo => (v.type?.kind === 'tensor' && v.type.shape?.[0] === 'K' ? { ...v, type: { ...v.type, shape: [k, ...v.type.shape.slice(1)] } } : v);
  const graph = { ...dm.model.graph, inputs: dm.model.graph.inputs.map(fix), outputs: dm.model.graph.outputs.map(fix) };
  return { ...dm, model: { ...dm.model, graph } };
}

/** The opset every derivative model is written in (its rules emit opset 17 operators). */
export const DERIVATIVE_OPSET = 17;

/** Who reads each tensor and where each node stands in the order: built once per graph and order. */
interface GraphIndex {
  order: number[];
  consumers: Map<string, number[]>;
  position: Int32Array;
}

const INDEXES = new WeakMap<Graph, GraphIndex>();

function indexOf(graph: Graph, order: number[]): GraphIndex {
  const known = INDEXES.get(graph);
  if (known && known.order === order) return known;
  const consumers = new Map<string, number[]>();
  graph.nodes.forEach((n, i) => {
    for (const x of new Set(allInputs(n))) {
      if (!x) continue;
      const list = consumers.get(x);
      if (list) list.push(i);
      else consumers.set(x, [i]);
    }
  });
  const position = new Int32Array(graph.nodes.length).fill(-1);
  order.forEach((i, p) => (position[i] = p));
  const index = { order, consumers, position };
  INDEXES.set(graph, index);
  return index;
}

/**
 * Nodes of the span, in topological order: those that depend on a source and lead to a target
 * (through their inputs or what their subgraphs read, so an If that is not inlined is in the span
 * and, having no rule, stops exact derivatives instead of passing none). The
 * sources are the independent variables: a node that makes a source is not part of the span. The
 * walk follows the graph's edges from the sources (the graph is indexed once), so its cost is the
 * span's size, not the graph's.
 */
export function spanNodes(graph: Graph, order: number[], span: Span): Node[] {
  const { consumers, position } = indexOf(graph, order);
  const sources = new Set(span.sources);
  const reach = new Set(span.sources);
  const reached = new Set<number>();
  const work = [...span.sources];
  while (work.length > 0) {
    const t = work.pop() as string;
    for (const i of consumers.get(t) ?? []) {
      const node = graph.nodes[i];
      if (reached.has(i) || position[i] < 0 || NON_DIFFERENTIABLE.has(node.opType) || node.outputs.some((o) => sources.has(o))) continue;
      reached.add(i);
      for (const o of node.outputs) {
        if (o && !reach.has(o)) {
          reach.add(o);
          work.push(o);
        }
      }
    }
  }
  const forward = [...reached].sort((a, b) => position[a] - position[b]);
  const needed = new Set(span.targets);
  const kept: Node[] = [];
  for (let k = forward.length - 1; k >= 0; k--) {
    const node = graph.nodes[forward[k]];
    if (node.outputs.some((o) => needed.has(o))) {
      kept.push(node);
      for (const x of allInputs(node)) if (x) needed.add(x);
    }
  }
  return kept.reverse();
}

/** A node's inputs, with the outer-scope tensors its subgraphs read (an If's branches read them without listing them). */
export function allInputs(node: Node): string[] {
  const hidden = node.attributes.some((a) => a.type === 'graph' || a.type === 'graphs') ? implicitInputs(node) : [];
  return hidden.length > 0 ? [...node.inputs, ...hidden] : node.inputs;
}

class Context implements RuleContext {
  node!: Node;
  private constantIndex: Map<string, Node> | undefined;
  /** Tensors that need cotangents (reverse mode); undefined in forward mode. */
  active: Set<string> | undefined;

  constructor(
    readonly b: GraphBuilder,
    readonly opset: number,
    private readonly facts: PrimalFacts,
    private readonly model: Model,
    private readonly constants: Map<string, Float64Array>,
  ) {}

  shape(name: string): number[] {
    const s = this.facts.shape(name);
    if (!s) throw new DoctorError('runtime', `no shape known for tensor '${name}' (read by ${this.node.opType} '${this.node.name}')`);
    return s;
  }

  dtype(name: string): DataType {
    const t = this.facts.dtype(name);
    if (t === undefined) throw new DoctorError('runtime', `no element type known for tensor '${name}'`);
    return t;
  }

  constant(name: string): Float64Array | undefined {
    if (this.constants.has(name)) return this.constants.get(name);
    const init = this.model.graph.initializers.get(name);
    const fromNode = this.constantNodes().get(name);
    const attr = fromNode ? getAttribute(fromNode, 'value') : undefined;
    const tensor: Tensor | undefined = init ?? (attr?.type === 'tensor' ? attr.value : undefined);
    const values = tensor ? tensorToFloat64(tensor) : this.facts.value?.(name);
    if (!values) return undefined;
    this.constants.set(name, values);
    return values;
  }

  /** The model's Constant nodes by output name, indexed on first use (a lookup per rule must not walk the graph). */
  private constantNodes(): Map<string, Node> {
    if (!this.constantIndex) {
      this.constantIndex = new Map();
      for (const n of this.model.graph.nodes) if (n.opType === 'Constant' && n.outputs[0]) this.constantIndex.set(n.outputs[0], n);
    }
    return this.constantIndex;
  }

  int(name: string, fallback: number): number {
    const a = getAttribute(this.node, name);
    return a?.type === 'int' ? a.value : fallback;
  }

  float(name: string, fallback: number): number {
    const a = getAttribute(this.node, name);
    return a?.type === 'float' || a?.type === 'int' ? a.value : fallback;
  }

  ints(name: string, fallback?: number[]): number[] | undefined {
    const a = getAttribute(this.node, name);
    return a?.type === 'ints' ? a.value : fallback;
  }

  needs(index: number): boolean {
    const x = this.node.inputs[index];
    return Boolean(x) && (this.active === undefined || this.active.has(x));
  }

  str(name: string, fallback: string): string {
    const a = getAttribute(this.node, name);
    return a?.type === 'string' ? a.value : fallback;
  }
}

function ruleFor(node: Node, facts: PrimalFacts, estimated: Set<string>): DerivativeRule {
  const rule = node.domain === '' || node.domain === 'ai.onnx' ? REGISTRY.get(node.opType) : undefined;
  if (rule) return rule;
  const slope = facts.slope?.(node);
  if (slope) {
    estimated.add(node.opType);
    return slopeRule(node, slope);
  }
  const local = facts.localJacobian?.(node);
  if (local) {
    estimated.add(node.opType);
    return matrixRule(node, local);
  }
  throw new UnsupportedDerivative(node, 'no derivative rule for this operator');
}

/** dy = J dx and gx = J^T gy with J a node's estimated local Jacobian (its other inputs held constant). */
function matrixRule(node: Node, j: { matrix: Float64Array; m: number; n: number }): DerivativeRule {
  const transposed = new Float64Array(j.n * j.m);
  for (let r = 0; r < j.m; r++) for (let c = 0; c < j.n; c++) transposed[c * j.m + r] = j.matrix[r * j.n + c];
  const type = (ctx: RuleContext) => (ctx.dtype(node.inputs[0]) === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT);
  return {
    opType: node.opType,
    jvp: (ctx, [dx]) => {
      if (!dx) return [undefined];
      const jt = ctx.b.tensor([j.n, j.m], transposed, type(ctx));
      const flat = ctx.b.op('Reshape', [dx, ctx.b.int64([-1, j.n])]);
      return [ctx.b.op('Reshape', [ctx.b.op('MatMul', [flat, jt]), ctx.b.int64([-1, ...ctx.shape(node.outputs[0])])])];
    },
    vjp: (ctx, [gy]) => {
      if (!gy) return [undefined];
      const jm = ctx.b.tensor([j.m, j.n], j.matrix, type(ctx));
      const flat = ctx.b.op('Reshape', [gy, ctx.b.int64([-1, j.m])]);
      return [ctx.b.op('Reshape', [ctx.b.op('MatMul', [flat, jm]), ctx.b.int64([-1, ...ctx.shape(node.inputs[0])])])];
    },
  };
}

/** dy = s * dx and gx = s * gy for an elementwise node whose slope s was estimated by finite differences. */
function slopeRule(node: Node, slope: Float64Array): DerivativeRule {
  const constant = (ctx: RuleContext) => ctx.b.tensor(ctx.shape(node.inputs[0]), slope, ctx.dtype(node.inputs[0]) === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT);
  return {
    opType: node.opType,
    jvp: (ctx, [dx]) => [dx ? ctx.b.op('Mul', [dx, constant(ctx)]) : undefined],
    vjp: (ctx, [gy]) => [gy ? ctx.b.op('Mul', [gy, constant(ctx)]) : undefined],
  };
}

/**
 * Builds the forward-mode derivative model of a span: inputs are batched tangents of the sources
 * (plus the primal values the rules read), outputs the batched tangents of the targets, J v.
 * `nodes` are the span's nodes when the caller already has them (a segment of a longer span);
 * `prefix` names its own tensors apart from another derivative model's (see mergeDerivativeModels).
 */
export function buildJvpModel(model: Model, order: number[], facts: PrimalFacts, span: Span, opset: number, fed: ReadonlySet<string> = new Set(), nodes: Node[] = spanNodes(model.graph, order, span), prefix = ''): DerivativeModel {
  const b = new GraphBuilder(`${prefix}jvp/`);
  const ctx = new Context(b, opset, facts, model, new Map());
  const estimated = new Set<string>();
  const tangent = new Map<string, string>();
  const inputs = span.sources.map((s) => {
    const name = `${prefix}tangent/${s}`;
    tangent.set(s, name);
    return name;
  });
  for (const node of nodes) {
    ctx.node = node;
    const d: Derivs = node.inputs.map((x) => (x ? tangent.get(x) : undefined));
    // a node whose subgraphs read a varying tensor varies too, though no listed input does (an If)
    if (d.every((t) => t === undefined) && !allInputs(node).some((x) => tangent.has(x))) continue;
    const out = ruleFor(node, facts, estimated).jvp(ctx, d);
    node.outputs.forEach((o, i) => {
      const t = out[i];
      if (o && t) tangent.set(o, t);
    });
  }
  const outputs = span.targets.map((t) => {
    const got = tangent.get(t);
    if (got) return got;
    ctx.node = nodes[0] ?? { name: '', opType: 'span', domain: '', inputs: [], outputs: [], attributes: [], metadata: {} };
    return zerosLike(ctx, inputs[0], ctx.shape(t), ctx.dtype(t));
  });
  return { ...finish(model, b, facts, inputs, span.sources, outputs, span.targets, nodes, fed), estimated: [...estimated] };
}

/**
 * Builds the reverse-mode derivative model of a span: inputs are batched cotangents of the targets,
 * outputs the batched cotangents of the sources and of `extra` tensors inside the span, J^T u.
 * `nodes` are the span's nodes when the caller already has them (a segment of a longer span);
 * `prefix` names its own tensors apart from another derivative model's (see mergeDerivativeModels).
 */
export function buildVjpModel(
  model: Model,
  order: number[],
  facts: PrimalFacts,
  span: Span,
  opset: number,
  extra: string[] = [],
  fed: ReadonlySet<string> = new Set(),
  nodes: Node[] = spanNodes(model.graph, order, span),
  prefix = '',
): DerivativeModel {
  const b = new GraphBuilder(`${prefix}vjp/`);
  const ctx = new Context(b, opset, facts, model, new Map());
  const estimated = new Set<string>();
  const active = new Set(span.sources);
  for (const node of nodes) for (const o of node.outputs) if (o) active.add(o);
  ctx.active = active;
  const cot = new Map<string, string>();
  const inputs = span.targets.map((t) => {
    const name = `${prefix}cotangent/${t}`;
    cot.set(t, name);
    return name;
  });
  for (let k = nodes.length - 1; k >= 0; k--) {
    const node = nodes[k];
    ctx.node = node;
    const g: Derivs = node.outputs.map((o) => (o ? cot.get(o) : undefined));
    if (g.every((t) => t === undefined)) continue;
    const back = ruleFor(node, facts, estimated).vjp(ctx, g);
    node.inputs.forEach((x, i) => {
      const t = back[i];
      if (!x || !t || !active.has(x)) return;
      const prev = cot.get(x);
      cot.set(x, prev ? b.op('Add', [prev, t]) : t);
    });
  }
  const wanted = [...span.sources, ...extra];
  const outputs = wanted.map((s) => {
    const got = cot.get(s);
    if (got) return got;
    ctx.node = nodes[0] ?? { name: '', opType: 'span', domain: '', inputs: [], outputs: [], attributes: [], metadata: {} };
    return zerosLike(ctx, inputs[0], ctx.shape(s), ctx.dtype(s));
  });
  return { ...finish(model, b, facts, inputs, span.targets, outputs, wanted, nodes, fed), estimated: [...estimated] };
}

/** Assembles the derivative model: prunes dead nodes, declares inputs, copies initializers. */
function finish(
  model: Model,
  b: GraphBuilder,
  facts: PrimalFacts,
  derivInputs: string[],
  derivInputPrimals: string[],
  derivOutputs: string[],
  derivOutputPrimals: string[],
  nodes: Node[],
  fed: ReadonlySet<string>,
): DerivativeModel {
  // Outputs must be distinct names: an output that is also an input or repeated gets an Identity.
  const outNames: string[] = [];
  const seen = new Set<string>(derivInputs);
  for (const o of derivOutputs) {
    const name = seen.has(o) ? b.op('Identity', [o]) : o;
    seen.add(name);
    outNames.push(name);
  }
  const live = prune(b, outNames);
  const produced = new Set<string>([...derivInputs, ...b.constants.keys()]);
  for (const n of live) for (const o of n.outputs) produced.add(o);
  const primalInputs: string[] = [];
  const initializers = new Map<string, Tensor>();
  for (const n of live) {
    for (const x of n.inputs) {
      if (!x || produced.has(x)) continue;
      produced.add(x);
      const init = fed.has(x) ? undefined : model.graph.initializers.get(x);
      if (init) initializers.set(x, init);
      else primalInputs.push(x);
    }
  }
  const read = new Set(live.flatMap((n) => n.inputs));
  for (const [k, v] of b.constants) if (read.has(k)) initializers.set(k, v);
  const info = (name: string, primal: string, batched: boolean): ValueInfo => {
    const shape = facts.shape(primal) ?? [];
    const elemType = facts.dtype(primal) ?? 1;
    return { name, type: { kind: 'tensor', elemType, shape: batched ? ['K', ...shape] : shape } };
  };
  const graph: Graph = {
    name: 'derivative',
    nodes: live,
    initializers,
    inputs: [...derivInputs.map((n, i) => info(n, derivInputPrimals[i], true)), ...primalInputs.map((p) => info(p, p, false))],
    outputs: outNames.map((n, i) => info(n, derivOutputPrimals[i], true)),
    valueInfo: [],
    metadata: {},
    passthrough: {},
  };
  const derived: Model = {
    irVersion: 8,
    opsetImports: [{ domain: '', version: DERIVATIVE_OPSET }],
    producerName: 'gradient-doctor',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    graph,
    metadata: {},
    passthrough: {},
  };
  return { model: derived, derivativeInputs: derivInputs, derivativeOutputs: outNames, primalInputs, nodes, estimated: [] };
}

/** Keeps only the builder's nodes that the outputs depend on, in order. */
function prune(b: GraphBuilder, outputs: string[]): Node[] {
  const needed = new Set(outputs);
  const keep: Node[] = [];
  for (let i = b.nodes.length - 1; i >= 0; i--) {
    const n = b.nodes[i];
    if (n.outputs.some((o) => needed.has(o))) {
      keep.push(n);
      for (const x of n.inputs) if (x) needed.add(x);
    }
  }
  return keep.reverse();
}

/**
 * Several derivative models as one, so that one onnxruntime session and one run serve them all (the
 * products of many small layers cost less than a session each). Their own tensors must have been
 * named apart (buildJvpModel's and buildVjpModel's `prefix`); the primal values and weights they read
 * are shared. Inputs and outputs are the parts' in order, each part's batch axis its own (`K0`, `K1`, ...).
 */
export function mergeDerivativeModels(parts: DerivativeModel[]): DerivativeModel {
  if (parts.length === 1) return parts[0];
  const nodes: Node[] = [];
  const produced = new Set<string>();
  const initializers = new Map<string, Tensor>();
  const inputs: ValueInfo[] = [];
  const outputs: ValueInfo[] = [];
  const primals = new Map<string, ValueInfo>();
  parts.forEach((dm, i) => {
    const g = dm.model.graph;
    const batched = (v: ValueInfo): ValueInfo => (v.type?.kind === 'tensor' && v.type.shape ? { ...v, type: { ...v.type, shape: [`K${i}`, ...v.type.shape.slice(1)] } } : v);
    for (const n of g.nodes) {
      for (const o of n.outputs) {
        if (!o) continue;
        if (produced.has(o)) throw new DoctorError('runtime', `derivative models to merge both compute '${o}'`);
        produced.add(o);
      }
      nodes.push(n);
    }
    for (const [name, t] of g.initializers) initializers.set(name, t);
    const own = new Set(dm.derivativeInputs);
    for (const v of g.inputs) {
      if (own.has(v.name)) inputs.push(batched(v));
      else primals.set(v.name, v);
    }
    outputs.push(...g.outputs.map(batched));
  });
  const graph: Graph = { ...parts[0].model.graph, name: 'derivatives', nodes, initializers, inputs: [...inputs, ...primals.values()], outputs };
  return {
    model: { ...parts[0].model, graph },
    derivativeInputs: parts.flatMap((p) => p.derivativeInputs),
    derivativeOutputs: parts.flatMap((p) => p.derivativeOutputs),
    primalInputs: [...primals.keys()],
    nodes: parts.flatMap((p) => p.nodes),
    estimated: [...new Set(parts.flatMap((p) => p.estimated))],
  };
}
