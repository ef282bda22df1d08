import { DoctorError } from '../errors';
import { byteLengthOf } from './tensorSize';
import { dataTypeName, type Graph, type Node } from './types';

/** The largest sample input Gradient Doctor synthesizes or feeds, in bytes (one sample of one input). */
export const MAX_INPUT_BYTES = 2 ** 31;

/**
 * Checks that every node input is produced by a graph input, an initializer or another node, that
 * no name is produced twice and that the nodes form no cycle. Returns the node indices in a
 * topological order (the file order when it already is one). Throws {@link DoctorError} naming the
 * node at fault.
 */
export function validateGraph(graph: Graph, file?: string): number[] {
  const producer = new Map<string, number>();
  const available = new Set<string>([...graph.inputs.map((i) => i.name), ...graph.initializers.keys()]);
  graph.nodes.forEach((node, i) => {
    for (const out of node.outputs) {
      if (!out) continue;
      if (producer.has(out) || graph.initializers.has(out)) {
        throw new DoctorError('invalid-graph', `tensor '${out}' is produced twice (again by ${describe(node)})`, file);
      }
      producer.set(out, i);
    }
  });
  for (const node of graph.nodes) {
    for (const input of node.inputs) {
      if (input && !available.has(input) && !producer.has(input)) {
        throw new DoctorError(
          'invalid-graph',
          `${describe(node)} reads '${input}', which no graph input, initializer or node provides (a missing initializer?)`,
          file,
        );
      }
    }
  }
  for (const out of graph.outputs) {
    if (!available.has(out.name) && !producer.has(out.name)) {
      throw new DoctorError('invalid-graph', `graph output '${out.name}' is not produced by any node`, file);
    }
  }
  checkInputSizes(graph, file);
  return topologicalOrder(graph, producer, file);
}

/**
 * Refuses a graph input whose fixed dims make one sample larger than {@link MAX_INPUT_BYTES}
 * (dims such as [2147483648, 32] in a damaged or hostile file): the sample would be allocated
 * before anything else could fail.
 */
function checkInputSizes(graph: Graph, file?: string): void {
  for (const input of graph.inputs) {
    const type = input.type;
    if (graph.initializers.has(input.name) || type?.kind !== 'tensor' || !type.shape) continue;
    const dims = type.shape.filter((d): d is number => typeof d === 'number' && d > 0);
    const bytes = byteLengthOf(type.elemType, dims.reduce((a, b) => a * b, 1));
    if (bytes !== undefined && bytes > MAX_INPUT_BYTES) {
      throw new DoctorError(
        'unsupported',
        `input '${input.name}' has dims [${type.shape.join(', ')}]: one ${dataTypeName(type.elemType)} sample would take ${(bytes / 2 ** 30).toPrecision(3)} GiB, more than the 2 GiB Gradient Doctor feeds a model`,
        file,
      );
    }
  }
}

function topologicalOrder(graph: Graph, producer: Map<string, number>, file?: string): number[] {
  const n = graph.nodes.length;
  const pending = new Array<number>(n).fill(0);
  const consumers: number[][] = Array.from({ length: n }, () => []);
  graph.nodes.forEach((node, i) => {
    const deps = new Set<number>();
    for (const input of node.inputs) {
      const p = producer.get(input);
      if (p !== undefined && p !== i) deps.add(p);
      if (p === i) throw new DoctorError('invalid-graph', `${describe(node)} reads its own output '${input}' (a cycle)`, file);
    }
    pending[i] = deps.size;
    for (const d of deps) consumers[d].push(i);
  });
  // Kahn's algorithm, always taking the lowest ready index so a sorted file keeps its order.
  const ready: number[] = [];
  for (let i = 0; i < n; i++) if (pending[i] === 0) ready.push(i);
  const order: number[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => b - a);
    const i = ready.pop() as number;
    order.push(i);
    for (const c of consumers[i]) if (--pending[c] === 0) ready.push(c);
  }
  if (order.length < n) {
    const stuck = graph.nodes.filter((_, i) => pending[i] > 0).slice(0, 5).map(describe);
    throw new DoctorError('invalid-graph', `the graph has a cycle through ${stuck.join(', ')}`, file);
  }
  return order;
}

/** "node 'name' (OpType)" for messages. */
export function describe(node: Node): string {
  return node.name ? `node '${node.name}' (${node.opType})` : `an unnamed ${node.opType} node`;
}
