import { dataTypeName, type Attribute, type Graph, type Model, type Node, type Tensor, type ValueInfo } from '../onnx/types';
import { tensorToFloat64 } from '../onnx/tensorData';
import type { LayerReport } from './types';

/** What the outline needs of a layer to open it with a comment line. */
export type OutlineLayer = Pick<LayerReport, 'index' | 'name' | 'opTypes' | 'nodes'>;

/** The model in the ONNX textual syntax, with the line of every top-level node. */
export interface OnnxText {
  text: string;
  /** 0-based line of each node of the main graph, by node name. */
  nodeLines: Map<string, number>;
  /** 0-based line of the graph signature (where model-level findings go). */
  signatureLine: number;
}

const INDENT = '   ';
/** Tensor attributes show at most this many values. */
const MAX_VALUES = 8;

/**
 * Renders a model the way onnx.printer does (the ONNX text syntax that onnx.parser reads): the
 * model header, the graph signature, its initializers by type and name (values left out), then one
 * line per node `outputs = OpType <attributes> (inputs)` with the node name as a comment. Given the
 * analysis's layers, a comment line opens each layer. Nodes appear in the file's order, which ONNX requires
 * to be topological.
 */
export function renderOnnxText(model: Model, layers: OutlineLayer[] = []): OnnxText {
  const lines: string[] = [];
  const nodeLines = new Map<string, number>();
  const opsets = model.opsetImports.map((o) => `"${o.domain}" : ${o.version}`).join(', ');
  const header = [`ir_version: ${model.irVersion}`, `opset_import: [${opsets}]`];
  if (model.producerName) header.push(`producer_name: "${model.producerName}"`);
  if (model.producerVersion) header.push(`producer_version: "${model.producerVersion}"`);
  lines.push('<', ...header.map((h, i) => `${INDENT}${h}${i < header.length - 1 ? ',' : ''}`), '>');
  const firstOfLayer = new Map<string, { index: number; name: string; ops: string[] }>();
  for (const l of layers) if (l.nodes[0]) firstOfLayer.set(l.nodes[0], { index: l.index, name: l.name, ops: l.opTypes });
  const signatureLine = lines.length;
  renderGraph(model.graph, '', lines, (node, line) => nodeLines.set(node.name, line), firstOfLayer);
  return { text: lines.join('\n') + '\n', nodeLines, signatureLine };
}

function renderGraph(
  graph: Graph,
  indent: string,
  lines: string[],
  onNode?: (node: Node, line: number) => void,
  layers?: Map<string, { index: number; name: string; ops: string[] }>,
): void {
  const inputs = graph.inputs.filter((i) => !graph.initializers.has(i.name));
  lines.push(`${indent}${identifier(graph.name || 'main_graph')} (${inputs.map(valueInfo).join(', ')}) => (${graph.outputs.map(valueInfo).join(', ')})`);
  if (graph.initializers.size > 0) {
    const inits = [...graph.initializers.values()];
    inits.forEach((t, i) => lines.push(`${indent}${INDENT}${i === 0 ? '<' : ' '}${tensorType(t)} ${identifier(t.name)}${i < inits.length - 1 ? ',' : '>'}`));
  }
  lines.push(`${indent}{`);
  for (const node of graph.nodes) {
    const layer = layers?.get(node.name);
    if (layer) lines.push(`${indent}${INDENT}# layer ${layer.index + 1}: ${layer.name} (${layer.ops.join(' + ')})`);
    const subgraphs = node.attributes.filter((a) => a.type === 'graph' || a.type === 'graphs');
    const attrs = node.attributes.filter((a) => a.type !== 'graph' && a.type !== 'graphs').map(attribute);
    const outs = node.outputs.map(identifier).join(', ');
    const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
    const attrText = attrs.length || subgraphs.length ? ` <${[...attrs, ...subgraphs.map((a) => `${a.name}: graph = ...`)].join(', ')}>` : '';
    onNode?.(node, lines.length);
    lines.push(`${indent}${INDENT}${outs} = ${op}${attrText} (${node.inputs.map((i) => (i ? identifier(i) : '')).join(', ')})${node.name ? `   # ${node.name}` : ''}`);
    for (const a of subgraphs) {
      const graphs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
      for (const g of graphs) {
        lines.push(`${indent}${INDENT}${INDENT}# ${a.name}:`);
        renderGraph(g, indent + INDENT + INDENT, lines);
      }
    }
  }
  lines.push(`${indent}}`);
}

/** A name as onnx.printer writes it: verbatim (exporters' names such as /layer1/Conv_output_0 included). */
function identifier(name: string): string {
  return /^\S+$/.test(name) ? name : JSON.stringify(name);
}

/** Element type names as the text syntax spells them. */
function typeName(t: Parameters<typeof dataTypeName>[0]): string {
  const n = dataTypeName(t).toLowerCase();
  return n === 'float32' ? 'float' : n === 'float64' ? 'double' : n;
}

function valueInfo(v: ValueInfo): string {
  if (v.type?.kind !== 'tensor') return `${v.type?.kind === 'other' ? v.type.description : 'unknown'} ${identifier(v.name)}`;
  const dims = v.type.shape?.map((d) => (d === null ? '?' : String(d))).join(',');
  return `${typeName(v.type.elemType)}${dims !== undefined ? `[${dims}]` : ''} ${identifier(v.name)}`;
}

function tensorType(t: Tensor): string {
  return `${typeName(t.dataType)}[${t.dims.join(',')}]`;
}

function attribute(a: Attribute): string {
  switch (a.type) {
    case 'float': return `${a.name}: float = ${number(a.value)}`;
    case 'int': return `${a.name}: int = ${a.value}`;
    case 'string': return `${a.name}: string = ${JSON.stringify(a.value)}`;
    case 'floats': return `${a.name}: floats = [${a.value.map(number).join(', ')}]`;
    case 'ints': return `${a.name}: ints = [${a.value.join(', ')}]`;
    case 'strings': return `${a.name}: strings = [${a.value.map((s) => JSON.stringify(s)).join(', ')}]`;
    case 'tensor': return `${a.name}: tensor = ${tensorLiteral(a.value)}`;
    case 'tensors': return `${a.name}: tensors = [${a.value.map(tensorLiteral).join(', ')}]`;
    default: return `${a.name}: ...`;
  }
}

function tensorLiteral(t: Tensor): string {
  let values = '...';
  try {
    if (t.raw) {
      const v = tensorToFloat64(t);
      values = [...v.slice(0, MAX_VALUES)].map(number).join(',') + (v.length > MAX_VALUES ? ',...' : '');
    }
  } catch {
    // non-numeric tensors keep '...'
  }
  return `${tensorType(t)} {${values}}`;
}

function number(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(7)));
}
