import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spanNodes } from '../../../src/core/autodiff/derivative';
import { Rng } from '../../../src/core/inputs/rng';
import type { Graph, Node } from '../../../src/core/onnx/types';

/** The definition, by brute force over the whole order: nodes reached from a source (not making one) that lead to a target. */
function reference(graph: Graph, order: number[], sources: string[], targets: string[]): Node[] {
  const reach = new Set(sources);
  const forward = order.map((i) => graph.nodes[i]).filter((n) => {
    if (n.opType === 'Shape' || n.outputs.some((o) => sources.includes(o)) || !n.inputs.some((x) => reach.has(x))) return false;
    n.outputs.forEach((o) => reach.add(o));
    return true;
  });
  const needed = new Set(targets);
  return forward.reverse().filter((n) => {
    if (!n.outputs.some((o) => needed.has(o))) return false;
    n.inputs.forEach((x) => needed.add(x));
    return true;
  }).reverse();
}

describe('spanNodes', () => {
  it('equals the brute-force definition on random graphs (shape ops and nodes that make a source excluded)', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 20; trial++) {
      const nodes: Node[] = [];
      const names = ['in0', 'in1'];
      for (let i = 0; i < 150; i++) {
        const pick = () => names[Math.floor(rng.uniform() * names.length)];
        const inputs = rng.uniform() < 0.5 ? [pick()] : [pick(), pick()];
        nodes.push({ name: `n${i}`, opType: rng.uniform() < 0.05 ? 'Shape' : 'Add', domain: '', inputs, outputs: [`t${i}`], attributes: [], metadata: {} });
        names.push(`t${i}`);
      }
      const graph: Graph = { name: 'g', nodes, initializers: new Map(), inputs: [], outputs: [], valueInfo: [], metadata: {}, passthrough: {} };
      const order = nodes.map((_, i) => i);
      const choose = () => names[Math.floor(rng.uniform() * names.length)];
      const sources = [choose(), choose(), choose()];
      const targets = [choose(), choose()];
      assert.deepEqual(spanNodes(graph, order, { sources, targets }).map((n) => n.name), reference(graph, order, sources, targets).map((n) => n.name), `trial ${trial}`);
    }
  });
});
