import { tensorToFloat64 } from '../onnx/tensorData';
import type { Graph, Model, Node, Tensor } from '../onnx/types';

/**
 * A read-only view of a model for guessing input values and sizes: every node of the main graph and
 * of its If/Loop/Scan bodies (which read outer names), who consumes each tensor, and the values of
 * constant tensors (initializers and Constant nodes) small enough to be hints.
 */
export interface GraphScan {
  nodes: Node[];
  consumers: Map<string, Node[]>;
  /** The values of a constant tensor of at most {@link MAX_HINT_ELEMENTS} elements, else undefined. */
  constant(name: string): number[] | undefined;
  /** The dims of a constant tensor of any size (a convolution's weight), else undefined. */
  weightDims(name: string): number[] | undefined;
}

/** Constants larger than this are weights, not hints, and are not read. */
const MAX_HINT_ELEMENTS = 64;

/** Scans `model` (nodes in graph order, subgraph nodes after the node that holds them). */
export function scanGraph(model: Model): GraphScan {
  const nodes: Node[] = [];
  const tensors = new Map<string, Tensor>();
  const scalars = new Map<string, number[]>();
  const visit = (graph: Graph) => {
    for (const [name, t] of graph.initializers) tensors.set(name, t);
    for (const node of graph.nodes) {
      nodes.push(node);
      if (node.opType === 'Constant' && node.outputs[0]) {
        for (const a of node.attributes) {
          if (a.type === 'tensor' && a.name === 'value') tensors.set(node.outputs[0], a.value);
          else if (a.type === 'int' || a.type === 'float') scalars.set(node.outputs[0], [a.value]);
          else if (a.type === 'ints' || a.type === 'floats') scalars.set(node.outputs[0], a.value);
        }
      }
      for (const a of node.attributes) {
        if (a.type === 'graph') visit(a.value);
        else if (a.type === 'graphs') a.value.forEach(visit);
      }
    }
  };
  visit(model.graph);
  const consumers = new Map<string, Node[]>();
  for (const node of nodes) {
    for (const name of node.inputs) {
      if (name === '') continue;
      if (!consumers.has(name)) consumers.set(name, []);
      consumers.get(name)?.push(node);
    }
  }
  const constant = (name: string): number[] | undefined => {
    const s = scalars.get(name);
    if (s) return s.length <= MAX_HINT_ELEMENTS ? s : undefined;
    const t = tensors.get(name);
    if (!t || !t.raw || t.dims.reduce((a, b) => a * b, 1) > MAX_HINT_ELEMENTS) return undefined;
    try {
      return [...tensorToFloat64(t)];
    } catch {
      return undefined; // not numeric, or its bytes do not match its dims: no hint
    }
  };
  return { nodes, consumers, constant, weightDims: (name) => tensors.get(name)?.dims };
}

/**
 * The uses of `input`'s values, breadth first: every node that reads the input, or a tensor that
 * carries its values unchanged through `passes` operators (reading it as their first input), with
 * the tensor it reads.
 */
export function* valueUses(consumers: ReadonlyMap<string, Node[]>, input: string, passes: ReadonlySet<string>): Generator<{ node: Node; tensor: string }> {
  const seen = new Set<string>();
  const queue = [input];
  while (queue.length > 0) {
    const tensor = queue.shift() as string;
    if (seen.has(tensor)) continue;
    seen.add(tensor);
    for (const node of consumers.get(tensor) ?? []) {
      if (passes.has(node.opType) && node.inputs[0] === tensor) queue.push(...node.outputs);
      yield { node, tensor };
    }
  }
}
