import { dataTypeName, defaultOpset, elementCount, type Dim, type Model, type ValueInfo } from './types';

/** A tensor in the model's signature, for display. */
export interface SignatureEntry {
  name: string;
  /** 'float32', 'int64', ... or the kind of a non-tensor type. */
  dtype: string;
  /** Dimensions: numbers, symbolic names, or null when unknown; undefined when the rank is unknown. */
  shape?: Dim[];
}

/** What `gradient-doctor inspect` prints about a model. */
export interface ModelSummary {
  irVersion: number;
  opset: number;
  opsetImports: { domain: string; version: number }[];
  producer: string;
  graphName: string;
  inputs: SignatureEntry[];
  outputs: SignatureEntry[];
  nodeCount: number;
  /** Elements in all floating-point initializers (the trainable weights of an exported model). */
  parameterCount: number;
  initializerCount: number;
  initializerBytes: number;
  /** External data files the weights were read from (relative to the model's folder). */
  externalDataFiles: string[];
  /** Op type (with domain when not the default) to number of nodes, most frequent first. */
  opHistogram: Array<{ opType: string; count: number }>;
}

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/** Summarises a decoded model: signature, size, op types. */
export function summarizeModel(model: Model, externalDataFiles: string[] = []): ModelSummary {
  const graph = model.graph;
  const inits = [...graph.initializers.values()];
  const counts = new Map<string, number>();
  for (const node of graph.nodes) {
    const key = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return {
    irVersion: model.irVersion,
    opset: defaultOpset(model),
    opsetImports: model.opsetImports,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    graphName: graph.name,
    inputs: graph.inputs.filter((i) => !graph.initializers.has(i.name)).map(signature),
    outputs: graph.outputs.map(signature),
    nodeCount: graph.nodes.length,
    parameterCount: inits.filter((t) => FLOAT_TYPES.has(dataTypeName(t.dataType))).reduce((s, t) => s + elementCount(t.dims), 0),
    initializerCount: inits.length,
    initializerBytes: inits.reduce((s, t) => s + (t.raw?.byteLength ?? t.external?.length ?? 0), 0),
    externalDataFiles,
    opHistogram: [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([opType, count]) => ({ opType, count })),
  };
}

function signature(v: ValueInfo): SignatureEntry {
  if (!v.type) return { name: v.name, dtype: 'unknown' };
  if (v.type.kind === 'other') return { name: v.name, dtype: v.type.description };
  return { name: v.name, dtype: dataTypeName(v.type.elemType), shape: v.type.shape };
}

/** "[batch, 3, 224, 224]" */
export function formatShape(shape: Dim[] | undefined): string {
  return shape ? `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : '[?]';
}
