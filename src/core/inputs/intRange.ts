import { getAttribute, type Model } from '../onnx/types';

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
  const consumers = new Map<string, number[]>();
  graph.nodes.forEach((node, i) => {
    for (const name of node.inputs) {
      if (!consumers.has(name)) consumers.set(name, []);
      consumers.get(name)?.push(i);
    }
  });
  let best: IntRange | undefined;
  const seen = new Set<string>();
  const queue = [input];
  while (queue.length > 0) {
    const tensor = queue.shift() as string;
    if (seen.has(tensor)) continue;
    seen.add(tensor);
    for (const i of consumers.get(tensor) ?? []) {
      const node = graph.nodes[i];
      if (VALUE_PRESERVING.has(node.opType) && node.inputs[0] === tensor) {
        queue.push(...node.outputs);
      } else if (node.opType === 'Gather' && node.inputs[1] === tensor) {
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
    }
  }
  return best ?? { low: 0, high: DEFAULT_INT_HIGH, reason: `no bound found in the graph; default [0, ${DEFAULT_INT_HIGH})` };
}
