import { getAttribute, type Model, type Node } from '../onnx/types';
import { valueUses } from './graphScan';

/** Ops through which an index tensor flows unchanged in value (only reshaped, cast or selected). */
const VALUE_PRESERVING = new Set(['Cast', 'Identity', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten', 'Transpose', 'Expand', 'Slice', 'Tile']);

/** Integer inputs with no bound found in the graph are drawn from [0, DEFAULT_INT_HIGH). */
export const DEFAULT_INT_HIGH = 10;

/** A half-open range [low, high) of valid integer values for an input, and where it came from. */
export interface IntRange {
  low: number;
  high: number;
  /** e.g. "rows of initializer 'embed.weight' read by Gather '/embed/Gather'". */
  reason: string;
}

/**
 * Infers the valid values of an integer input from how the graph uses it: when it (possibly after
 * casts and reshapes) indexes a Gather over an initializer, the values must lie in [0, size of the
 * gathered axis). The tightest bound over all such uses wins.
 */
export function inferIntRange(model: Model, input: string): IntRange {
  const graph = model.graph;
  const consumers = new Map<string, Node[]>();
  for (const node of graph.nodes) {
    for (const name of node.inputs) {
      if (!consumers.has(name)) consumers.set(name, []);
      consumers.get(name)?.push(node);
    }
  }
  let best: IntRange | undefined;
  for (const { node, tensor } of valueUses(consumers, input, VALUE_PRESERVING)) {
    if (node.opType !== 'Gather' || node.inputs[1] !== tensor) continue;
    const data = graph.initializers.get(node.inputs[0]);
    if (!data) continue;
    const attr = getAttribute(node, 'axis');
    const rawAxis = attr?.type === 'int' ? attr.value : 0;
    const axis = rawAxis < 0 ? rawAxis + data.dims.length : rawAxis;
    const size = data.dims[axis];
    if (size > 0 && (!best || size < best.high)) {
      best = { low: 0, high: size, reason: `axis ${axis} of initializer '${data.name}' (size ${size}) read by Gather '${node.name}'` };
    }
  }
  return best ?? { low: 0, high: DEFAULT_INT_HIGH, reason: `no bound found in the graph; default [0, ${DEFAULT_INT_HIGH})` };
}
