import type { Graph, Model, Node } from '../onnx/types';
import { constantTensors } from '../onnx/constants';
import { DataType } from '../onnx/types';

/** How finely the model is cut into layers (DOMAIN.md section 1). */
export type Granularity = 'op' | 'layer' | 'module';

/** A contiguous piece of the graph whose Jacobian is probed. */
export interface Layer {
  name: string;
  /** Position in depth order. */
  index: number;
  opTypes: string[];
  /** Names of the nodes in the layer. */
  nodes: string[];
  inputTensors: string[];
  outputTensors: string[];
  /** Float initializers the layer's nodes read (weights, biases, normalisation parameters). */
  parameters: string[];
  /** Module path from the node names (e.g. /layer1/layer1.0/conv1), when they carry one. */
  module?: string;
}

const PARAMETERIZED = new Set(['Conv', 'ConvTranspose', 'Gemm', 'LSTM', 'GRU', 'RNN']);

/** Ops that join the layer of the parameterized op before them: bias, normalisation, activation. */
const FOLLOWERS = new Set([
  'BatchNormalization', 'LayerNormalization', 'InstanceNormalization', 'LpNormalization', 'MeanVarianceNormalization', 'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu',
  'Softplus', 'Softsign', 'Gelu', 'HardSigmoid', 'HardSwish', 'Mish', 'Clip', 'Dropout', 'Identity', 'Add', 'Sub', 'Mul', 'Div',
]);

const FLOAT_TYPES = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

/** True when `name` is a constant (see constantTensors). */
function isConstant(graph: Graph, name: string, constants: Set<string>): boolean {
  return graph.initializers.has(name) || constants.has(name);
}

/** True for ops with weights: Conv, Gemm, recurrent ops, and MatMul with a constant operand. */
export function isParameterized(graph: Graph, node: Node, constants: Set<string>): boolean {
  if (PARAMETERIZED.has(node.opType)) return true;
  return node.opType === 'MatMul' && node.inputs.some((x) => isConstant(graph, x, constants));
}

/** The module path of a node name like /layer1/layer1.0/conv1/Conv (its last segment dropped). */
export function modulePath(nodeName: string): string | undefined {
  if (!nodeName.startsWith('/')) return undefined;
  const parts = nodeName.split('/').filter(Boolean);
  return parts.length > 1 ? '/' + parts.slice(0, -1).join('/') : undefined;
}

/**
 * Cuts the graph into layers, in depth order. `op`: each parameterized op alone. `layer`: a
 * parameterized op with the normalisation, bias and activation ops that follow it on a single path,
 * up to the next parameterized op, branch or merge. `module`: the nodes sharing a module path.
 */
export function findLayers(model: Model, order: number[], granularity: Granularity): Layer[] {
  const graph = model.graph;
  const constants = constantTensors(graph, order);
  const consumers = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const x of n.inputs) {
      if (!x) continue;
      const list = consumers.get(x);
      if (list) list.push(n);
      else consumers.set(x, [n]);
    }
  }
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const floatParams = (nodes: Node[]) =>
    [...new Set(nodes.flatMap((n) => n.inputs).filter((x) => FLOAT_TYPES.has(graph.initializers.get(x)?.dataType ?? DataType.UNDEFINED)))];
  if (granularity === 'module') return moduleLayers(graph, order, constants, floatParams, consumers);
  const layers: Layer[] = [];
  for (const i of order) {
    const node = graph.nodes[i];
    if (!isParameterized(graph, node, constants)) continue;
    const members = [node];
    const input = node.inputs.find((x) => x && !isConstant(graph, x, constants)) ?? node.inputs[0];
    let out = node.outputs[0];
    if (granularity === 'layer') {
      for (;;) {
        const next = consumers.get(out) ?? [];
        if (next.length !== 1 || graphOutputs.has(out)) break;
        const c = next[0];
        if (!FOLLOWERS.has(c.opType) || isParameterized(graph, c, constants)) break;
        // a merge (Add of two activations) ends the layer; a bias or scale (constant operand) joins it
        const others = c.inputs.filter((x) => x && x !== out);
        if (others.some((x) => !isConstant(graph, x, constants))) break;
        members.push(c);
        out = c.outputs[0];
      }
    }
    layers.push({
      name: node.name || `${node.opType}_${layers.length}`,
      index: layers.length,
      opTypes: members.map((m) => m.opType),
      nodes: members.map((m) => m.name),
      inputTensors: [input],
      outputTensors: [out],
      parameters: floatParams(members),
      module: modulePath(node.name),
    });
  }
  return layers;
}

function moduleLayers(graph: Graph, order: number[], constants: Set<string>, floatParams: (nodes: Node[]) => string[], consumers: Map<string, Node[]>): Layer[] {
  const groups = new Map<string, Node[]>();
  for (const i of order) {
    const node = graph.nodes[i];
    const path = modulePath(node.name);
    if (!path || node.opType === 'Constant') continue;
    const group = groups.get(path);
    if (group) group.push(node);
    else groups.set(path, [node]);
  }
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const layers: Layer[] = [];
  for (const [path, nodes] of groups) {
    if (!nodes.some((n) => isParameterized(graph, n, constants))) continue;
    const produced = new Set(nodes.flatMap((n) => n.outputs));
    const inputs = [...new Set(nodes.flatMap((n) => n.inputs).filter((x) => x && !produced.has(x) && !isConstant(graph, x, constants)))];
    // outputs read outside the module (a walk over the module's own consumers, not the whole graph)
    const inside = new Set(nodes);
    const outputs = nodes.flatMap((n) => n.outputs).filter((o) => graphOutputs.has(o) || (consumers.get(o) ?? []).some((c) => !inside.has(c)));
    if (inputs.length === 0 || outputs.length === 0) continue;
    layers.push({
      name: path,
      index: layers.length,
      opTypes: nodes.map((n) => n.opType),
      nodes: nodes.map((n) => n.name),
      inputTensors: inputs,
      outputTensors: outputs,
      parameters: floatParams(nodes),
      module: path,
    });
  }
  return layers;
}
