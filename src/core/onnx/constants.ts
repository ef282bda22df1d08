import type { Graph } from './types';

const RANDOM = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

/**
 * Tensors whose value does not depend on the graph inputs: initializers, Constant outputs, and the
 * outputs of deterministic nodes that read only such tensors (exported weights often pass through
 * Identity, Transpose or Cast nodes; shape arithmetic often starts from constants).
 */
export function constantTensors(graph: Graph, order: number[]): Set<string> {
  const constants = new Set<string>(graph.initializers.keys());
  const inputs = new Set(graph.inputs.map((i) => i.name).filter((n) => !graph.initializers.has(n)));
  for (const i of order) {
    const node = graph.nodes[i];
    if (RANDOM.has(node.opType)) continue;
    const reads = node.inputs.filter(Boolean);
    if (node.opType === 'Constant' || (reads.length > 0 && reads.every((x) => constants.has(x) && !inputs.has(x)))) {
      for (const o of node.outputs) if (o) constants.add(o);
    }
  }
  return constants;
}
