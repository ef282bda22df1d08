import { DoctorError } from '../errors';
import { defaultOpset, getAttribute, type Graph, type Model, type Node, type Tensor } from '../onnx/types';
import { DataType } from '../onnx/types';

/** Control-flow ops that {@link inlineControlFlow} rewrites. */
export const CONTROL_FLOW_OPS = new Set(['If', 'Loop', 'Scan']);

/** Inlined nodes past this many are refused (a Loop with a huge trip count is not unrolled). */
export const MAX_INLINED_NODES = 50_000;

/** What inlining reads from a forward pass at the sample. */
export interface SampleFacts {
  /** A tensor's value (If conditions, Loop trip counts and conditions). */
  value(name: string): Float64Array | undefined;
  /** A tensor's shape (Scan lengths; Loop iteration counts from their scan outputs). */
  shape(name: string): number[] | undefined;
}

/** What happened to one control-flow node. */
export interface InlinedNode {
  node: string;
  opType: string;
  /** 'then branch', 'else branch', '3 iterations', ... or why it was left as it is. */
  how: string;
  inlined: boolean;
}

/**
 * The outer-scope tensors a node's subgraphs read (If branches, Loop and Scan bodies, nested ones
 * too): inputs of the node that its `inputs` list does not show. Empty for nodes without subgraphs.
 */
export function implicitInputs(node: Node): string[] {
  const found = new Set<string>();
  const visit = (g: Graph, outer: ReadonlySet<string>) => {
    const local = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
    for (const n of g.nodes) for (const o of n.outputs) if (o) local.add(o);
    for (const n of g.nodes) {
      for (const x of n.inputs) if (x && !local.has(x) && !outer.has(x)) found.add(x);
      for (const a of n.attributes) {
        const graphs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
        for (const inner of graphs) visit(inner, new Set([...outer, ...local]));
      }
    }
  };
  for (const a of node.attributes) {
    const graphs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
    for (const g of graphs) visit(g, new Set());
  }
  return [...found];
}

/** True when the main graph has an If, Loop or Scan node. */
export function hasControlFlow(model: Model): boolean {
  return model.graph.nodes.some((n) => CONTROL_FLOW_OPS.has(n.opType) && (n.domain === '' || n.domain === 'ai.onnx'));
}

/**
 * Replaces each If, Loop and Scan node of the main graph by what it computes at the sample: the
 * branch an If takes, a Loop's iterations or a Scan's steps, one after another ("the branch taken,
 * the iterations run"). The subgraphs' initializers become the model's own (so their weights are
 * parameters and their nodes layers); node and tensor names are kept where they do not clash. One
 * level per call: control flow nested in an inlined body has its values only after a forward pass
 * of the result, so callers repeat (forward pass, inline) until nothing changes. Nodes whose
 * condition or count is unknown, or that would unroll past {@link MAX_INLINED_NODES}, stay, with
 * the reason.
 */
export function inlineControlFlow(model: Model, facts: SampleFacts): { model: Model; report: InlinedNode[]; changed: boolean } {
  const graph = model.graph;
  const names = new Names(graph, defaultOpset(model));
  const nodes: Node[] = [];
  const initializers = new Map(graph.initializers);
  const report: InlinedNode[] = [];
  let budget = MAX_INLINED_NODES;
  for (const node of graph.nodes) {
    if (!CONTROL_FLOW_OPS.has(node.opType) || (node.domain !== '' && node.domain !== 'ai.onnx')) {
      nodes.push(node);
      continue;
    }
    const label = node.name || node.outputs[0];
    try {
      const out = node.opType === 'If' ? inlineIf(node, facts, names) : node.opType === 'Loop' ? unrollLoop(node, facts, names, budget) : unrollScan(node, facts, names, budget);
      budget -= out.nodes.length;
      nodes.push(...out.nodes);
      for (const [k, v] of out.initializers) initializers.set(k, v);
      report.push({ node: label, opType: node.opType, how: out.how, inlined: true });
    } catch (e) {
      if (!(e instanceof NotInlined)) throw e;
      nodes.push(node);
      report.push({ node: label, opType: node.opType, how: e.message, inlined: false });
    }
  }
  const changed = report.some((r) => r.inlined);
  return { model: changed ? { ...model, graph: { ...graph, nodes, initializers } } : model, report, changed };
}

/** Why a control-flow node stays as it is. */
class NotInlined extends DoctorError {
  constructor(why: string) {
    super('unsupported', why);
  }
}

/** The names in use in the model, and fresh ones for copies of subgraph tensors and nodes. */
class Names {
  private readonly used = new Set<string>();
  private readonly nodeNames = new Set<string>();

  constructor(graph: Graph, readonly opset: number) {
    for (const i of graph.inputs) this.used.add(i.name);
    for (const k of graph.initializers.keys()) this.used.add(k);
    for (const n of graph.nodes) {
      for (const o of n.outputs) if (o) this.used.add(o);
      if (n.name) this.nodeNames.add(n.name);
    }
  }

  /** `name` itself when it is free, else `name` with a suffix; reserved either way. */
  tensor(name: string, suffix: string): string {
    let out = name;
    for (let k = 0; this.used.has(out); k++) out = `${name}${suffix}${k === 0 ? '' : `_${k}`}`;
    this.used.add(out);
    return out;
  }

  /** A node name, kept when free. */
  node(name: string, suffix: string): string {
    let out = name;
    for (let k = 0; !out || this.nodeNames.has(out); k++) out = `${name || 'node'}${suffix}${k === 0 ? '' : `_${k}`}`;
    this.nodeNames.add(out);
    return out;
  }
}

/** A copy of a subgraph: its nodes with fresh names, its initializers, and where its outputs ended up. */
interface Copy {
  nodes: Node[];
  initializers: Map<string, Tensor>;
  outputs: string[];
}

/**
 * Copies `body` into the outer graph: its inputs bound to `bound` (outer tensor names), every
 * tensor it makes renamed where it clashes (`suffix`), outer-scope references left as they are.
 * `hoisted` holds the body's initializers already copied (a loop body's weights are copied once).
 */
function copyGraph(body: Graph, bound: string[], names: Names, suffix: string, hoisted: Map<string, string>): Copy {
  const rename = new Map<string, string>();
  body.inputs.forEach((input, i) => rename.set(input.name, bound[i]));
  const initializers = new Map<string, Tensor>();
  for (const [k, t] of body.initializers) {
    if (rename.has(k)) continue;
    let name = hoisted.get(k);
    if (!name) {
      name = names.tensor(k, suffix);
      hoisted.set(k, name);
      initializers.set(name, { ...t, name });
    }
    rename.set(k, name);
  }
  const nodes = body.nodes.map((n) => {
    const inputs = n.inputs.map((x) => (x ? rename.get(x) ?? x : x));
    const outputs = n.outputs.map((o) => {
      if (!o) return o;
      const fresh = names.tensor(o, suffix);
      rename.set(o, fresh);
      return fresh;
    });
    return { ...n, name: names.node(n.name, suffix), inputs, outputs };
  });
  return { nodes, initializers, outputs: body.outputs.map((o) => rename.get(o.name) ?? o.name) };
}

function graphAttr(node: Node, name: string): Graph {
  const a = getAttribute(node, name);
  if (a?.type !== 'graph') throw new NotInlined(`no '${name}' subgraph`);
  return a.value;
}

function intAttr(node: Node, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  return a?.type === 'int' ? a.value : fallback;
}

function identity(names: Names, node: Node, from: string, to: string, what: string): Node {
  return { name: names.node(`${node.name}/${what}`, ''), opType: 'Identity', domain: '', inputs: [from], outputs: [to], attributes: [], metadata: {} };
}

function int64Scalar(name: string, value: number): Tensor {
  return { name, dataType: DataType.INT64, dims: [], raw: new Uint8Array(BigInt64Array.of(BigInt(value)).buffer) };
}

function int64Vector(name: string, values: number[]): Tensor {
  return { name, dataType: DataType.INT64, dims: [values.length], raw: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) };
}

function boolScalar(name: string, value: boolean): Tensor {
  return { name, dataType: DataType.BOOL, dims: [], raw: Uint8Array.of(value ? 1 : 0) };
}

/** If: the branch the condition picks at the sample, its outputs passed to the node's outputs. */
function inlineIf(node: Node, facts: SampleFacts, names: Names): Copy & { how: string } {
  const cond = facts.value(node.inputs[0]);
  if (!cond || cond.length !== 1) throw new NotInlined(`the condition '${node.inputs[0]}' has no known value at the sample`);
  const taken = cond[0] !== 0 ? 'then_branch' : 'else_branch';
  const branch = graphAttr(node, taken);
  const copy = copyGraph(branch, [], names, `/${taken}`, new Map());
  if (copy.outputs.length !== node.outputs.length) throw new NotInlined(`the ${taken} has ${copy.outputs.length} outputs for ${node.outputs.length}`);
  const tail = node.outputs.map((o, i) => (o ? identity(names, node, copy.outputs[i], o, `output_${i}`) : undefined)).filter((n): n is Node => n !== undefined);
  return { nodes: [...copy.nodes, ...tail], initializers: copy.initializers, outputs: node.outputs, how: taken === 'then_branch' ? 'then branch' : 'else branch' };
}

/** Stacks per-iteration tensors along a new axis `axis` (Unsqueeze each, one Concat). */
function stack(names: Names, node: Node, parts: string[], axis: number, out: string, inits: Map<string, Tensor>): Node[] {
  // Unsqueeze takes its axes as an input from opset 13, as an attribute before
  const axesName = names.opset >= 13 ? names.tensor(`${node.name}/axes${axis}`, '') : undefined;
  if (axesName) inits.set(axesName, int64Vector(axesName, [axis]));
  const nodes: Node[] = [];
  const unsqueezed = parts.map((p, k) => {
    const u = names.tensor(`${p}/unsqueezed`, `_${k}`);
    const inputs = axesName ? [p, axesName] : [p];
    const attributes: Node['attributes'] = axesName ? [] : [{ name: 'axes', type: 'ints', value: [axis] }];
    nodes.push({ name: names.node(`${node.name}/stack_${k}`, ''), opType: 'Unsqueeze', domain: '', inputs, outputs: [u], attributes, metadata: {} });
    return u;
  });
  nodes.push({ name: names.node(`${node.name}/stack`, ''), opType: 'Concat', domain: '', inputs: unsqueezed, outputs: [out], attributes: [{ name: 'axis', type: 'int', value: axis }], metadata: {} });
  return nodes;
}

/**
 * Loop: the body copied once per iteration run at the sample (the trip count M, or the length of a
 * scan output when the body's condition decides), loop-carried values threaded through, scan
 * outputs stacked. Iteration counts come from the sample: another input may run a different count.
 */
function unrollLoop(node: Node, facts: SampleFacts, names: Names, budget: number): Copy & { how: string } {
  const body = graphAttr(node, 'body');
  const [mName, condName, ...initial] = node.inputs;
  const carried = initial.length;
  const scanOutputs = node.outputs.slice(carried);
  const trip = mName ? facts.value(mName)?.[0] : undefined;
  const condIn = body.inputs[1]?.name;
  const condOut = body.outputs[0]?.name;
  const passthrough = condOut === condIn || body.nodes.some((n) => n.opType === 'Identity' && n.inputs[0] === condIn && n.outputs[0] === condOut);
  const initialCond = condName ? facts.value(condName)?.[0] : 1;
  let count: number | undefined;
  if (initialCond === 0) count = 0;
  else if (trip !== undefined && (!condName || passthrough)) count = trip;
  else if (scanOutputs.length > 0 && scanOutputs[0]) count = facts.shape(scanOutputs[0])?.[0];
  if (count === undefined) throw new NotInlined('the number of iterations at the sample is not known (a data-dependent condition and no scan output)');
  if (count * Math.max(1, body.nodes.length) > budget) throw new NotInlined(`${count} iterations of ${body.nodes.length} nodes are too many to unroll`);
  if (count === 0 && scanOutputs.some(Boolean)) throw new NotInlined('no iterations, so its scan outputs are empty');
  const inits = new Map<string, Tensor>();
  const hoisted = new Map<string, string>();
  const nodes: Node[] = [];
  let state = initial;
  let cond = condName || names.tensor(`${node.name}/cond`, '');
  if (!condName) inits.set(cond, boolScalar(cond, true));
  const perIteration: string[][] = scanOutputs.map(() => []);
  for (let it = 0; it < count; it++) {
    const iterName = names.tensor(`${node.name}/iteration_${it}`, '');
    inits.set(iterName, int64Scalar(iterName, it));
    const copy = copyGraph(body, [iterName, cond, ...state], names, `#${it}`, hoisted);
    nodes.push(...copy.nodes);
    for (const [k, v] of copy.initializers) inits.set(k, v);
    cond = copy.outputs[0];
    state = copy.outputs.slice(1, 1 + carried);
    copy.outputs.slice(1 + carried).forEach((o, k) => perIteration[k].push(o));
  }
  node.outputs.slice(0, carried).forEach((o, i) => {
    if (o) nodes.push(identity(names, node, state[i], o, `final_${i}`));
  });
  scanOutputs.forEach((o, k) => {
    if (o) nodes.push(...stack(names, node, perIteration[k], 0, o, inits));
  });
  return { nodes, initializers: inits, outputs: node.outputs, how: `${count} iteration${count === 1 ? '' : 's'}` };
}

/**
 * Scan (opset 9+): the body copied once per step of the scanned axis, each step reading a slice of
 * every scan input (Gather at that index, forward or reverse), state threaded through, scan outputs
 * stacked along their axes (reversed where the output direction says so).
 */
function unrollScan(node: Node, facts: SampleFacts, names: Names, budget: number): Copy & { how: string } {
  const body = graphAttr(node, 'body');
  const nScan = intAttr(node, 'num_scan_inputs', 0);
  const nState = node.inputs.length - nScan;
  const ints = (name: string, n: number) => {
    const a = getAttribute(node, name);
    return a?.type === 'ints' ? a.value : new Array<number>(n).fill(0);
  };
  const inAxes = ints('scan_input_axes', nScan);
  const inDirs = ints('scan_input_directions', nScan);
  const nOut = node.outputs.length - nState;
  const outAxes = ints('scan_output_axes', nOut);
  const outDirs = ints('scan_output_directions', nOut);
  const scanInputs = node.inputs.slice(nState);
  const shapes = scanInputs.map((x) => facts.shape(x));
  if (shapes.some((s) => !s)) throw new NotInlined('the shapes of its scan inputs are not known');
  const axisOf = (i: number) => {
    const rank = (shapes[i] as number[]).length;
    return inAxes[i] < 0 ? inAxes[i] + rank : inAxes[i];
  };
  const length = nScan > 0 ? (shapes[0] as number[])[axisOf(0)] : 0;
  if (length * Math.max(1, body.nodes.length) > budget) throw new NotInlined(`${length} steps of ${body.nodes.length} nodes are too many to unroll`);
  if (length === 0) throw new NotInlined('a scan of length 0');
  const inits = new Map<string, Tensor>();
  const hoisted = new Map<string, string>();
  const nodes: Node[] = [];
  let state = node.inputs.slice(0, nState);
  const perStep: string[][] = Array.from({ length: nOut }, () => []);
  for (let t = 0; t < length; t++) {
    const slices = scanInputs.map((x, i) => {
      const index = inDirs[i] === 1 ? length - 1 - t : t;
      const indexName = names.tensor(`${node.name}/step_${index}`, '');
      inits.set(indexName, int64Scalar(indexName, index));
      const slice = names.tensor(`${x}/step_${index}`, '');
      nodes.push({ name: names.node(`${node.name}/slice_${i}_${t}`, ''), opType: 'Gather', domain: '', inputs: [x, indexName], outputs: [slice], attributes: [{ name: 'axis', type: 'int', value: axisOf(i) }], metadata: {} });
      return slice;
    });
    const copy = copyGraph(body, [...state, ...slices], names, `#${t}`, hoisted);
    nodes.push(...copy.nodes);
    for (const [k, v] of copy.initializers) inits.set(k, v);
    state = copy.outputs.slice(0, nState);
    copy.outputs.slice(nState).forEach((o, k) => perStep[k].push(o));
  }
  node.outputs.slice(0, nState).forEach((o, i) => {
    if (o) nodes.push(identity(names, node, state[i], o, `final_${i}`));
  });
  node.outputs.slice(nState).forEach((o, k) => {
    if (!o) return;
    const parts = outDirs[k] === 1 ? [...perStep[k]].reverse() : perStep[k];
    const rank = (facts.shape(o)?.length ?? 1);
    const axis = outAxes[k] < 0 ? outAxes[k] + rank : outAxes[k];
    nodes.push(...stack(names, node, parts, axis, o, inits));
  });
  return { nodes, initializers: inits, outputs: node.outputs, how: `${length} steps` };
}

/** Constant nodes whose float value has more than this many elements are weights (see {@link constantsToInitializers}). */
export const CONSTANT_WEIGHT_MIN_ELEMENTS = 2;

/**
 * Moves the values of float Constant nodes with at least {@link CONSTANT_WEIGHT_MIN_ELEMENTS}
 * elements into initializers of the same name, so that weights stored that way (some exporters
 * write every weight as a Constant) count as parameters; scalar constants stay nodes.
 */
export function constantsToInitializers(model: Model): { model: Model; moved: string[] } {
  const floats = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);
  const moved: string[] = [];
  const initializers = new Map(model.graph.initializers);
  const nodes = model.graph.nodes.filter((n) => {
    if (n.opType !== 'Constant' || (n.domain !== '' && n.domain !== 'ai.onnx') || !n.outputs[0]) return true;
    const a = getAttribute(n, 'value');
    if (a?.type !== 'tensor' || !floats.has(a.value.dataType)) return true;
    const size = a.value.dims.reduce((p, d) => p * d, 1);
    if (size < CONSTANT_WEIGHT_MIN_ELEMENTS) return true;
    initializers.set(n.outputs[0], { ...a.value, name: n.outputs[0] });
    moved.push(n.outputs[0]);
    return false;
  });
  if (moved.length === 0) return { model, moved };
  return { model: { ...model, graph: { ...model.graph, nodes, initializers } }, moved };
}
