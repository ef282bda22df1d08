import { modelProtoType, type ProtoRecord } from './proto';
import type { Attribute, Graph, Model, Node, Tensor, ValueInfo, ValueType } from './types';

/** A blob that a session needs beside the model bytes (onnxruntime's `externalData` option). */
export interface ExternalBlob {
  path: string;
  data: Uint8Array;
}

/** Options for {@link encodeModel}. */
export interface EncodeOptions {
  /**
   * Initializers with more bytes than this are written as external data that points at a virtual
   * file, returned in `external`, instead of being copied into the model bytes. Default: never.
   */
  externalizeAbove?: number;
}

/** An encoded model: its bytes and the external blobs they refer to. */
export interface EncodedModel {
  bytes: Uint8Array;
  external: ExternalBlob[];
}

/**
 * Encodes the graph IR as an ONNX ModelProto. With `externalizeAbove`, large weights are handed
 * over by reference (no copy of the weights is made), which is how a 1 GB model reaches
 * onnxruntime without a second copy in memory.
 */
export function encodeModel(model: Model, options: EncodeOptions = {}): EncodedModel {
  const external: ExternalBlob[] = [];
  const ctx: EncodeContext = { externalizeAbove: options.externalizeAbove ?? Infinity, external };
  const proto: ProtoRecord = {
    ir_version: model.irVersion,
    opset_import: model.opsetImports.map((o) => ({ domain: orUndefined(o.domain), version: o.version })),
    producer_name: orUndefined(model.producerName),
    producer_version: orUndefined(model.producerVersion),
    domain: orUndefined(model.domain),
    model_version: orUndefined(model.modelVersion),
    doc_string: orUndefined(model.docString),
    graph: fromGraph(model.graph, ctx, true),
    metadata_props: fromMetadata(model.metadata),
    ...model.passthrough,
  };
  const type = modelProtoType();
  return { bytes: type.encode(type.fromObject(proto)).finish(), external };
}

interface EncodeContext {
  externalizeAbove: number;
  external: ExternalBlob[];
}

function fromGraph(g: Graph, ctx: EncodeContext, topLevel: boolean): ProtoRecord {
  return {
    name: orUndefined(g.name),
    node: g.nodes.map((n) => fromNode(n, ctx)),
    initializer: [...g.initializers.values()].map((t) => fromTensor(t, topLevel ? ctx : undefined)),
    input: g.inputs.map(fromValueInfo),
    output: g.outputs.map(fromValueInfo),
    value_info: g.valueInfo.map(fromValueInfo),
    doc_string: g.docString,
    metadata_props: fromMetadata(g.metadata),
    ...g.passthrough,
  };
}

function fromNode(n: Node, ctx: EncodeContext): ProtoRecord {
  return {
    input: n.inputs,
    output: n.outputs,
    name: orUndefined(n.name),
    op_type: n.opType,
    domain: orUndefined(n.domain),
    attribute: n.attributes.map((a) => fromAttribute(a, ctx)),
    doc_string: n.docString,
    metadata_props: fromMetadata(n.metadata),
    overload: orUndefined(n.overload),
  };
}

const utf8 = new TextEncoder();

function fromAttribute(a: Attribute, ctx: EncodeContext): ProtoRecord {
  const base = { name: a.name };
  switch (a.type) {
    case 'float': return { ...base, type: 1, f: a.value };
    case 'int': return { ...base, type: 2, i: a.value };
    case 'string': return { ...base, type: 3, s: utf8.encode(a.value) };
    case 'tensor': return { ...base, type: 4, t: fromTensor(a.value) };
    case 'graph': return { ...base, type: 5, g: fromGraph(a.value, ctx, false) };
    case 'floats': return { ...base, type: 6, floats: a.value };
    case 'ints': return { ...base, type: 7, ints: a.value };
    case 'strings': return { ...base, type: 8, strings: a.value.map((s) => utf8.encode(s)) };
    case 'tensors': return { ...base, type: 9, tensors: a.value.map((t) => fromTensor(t)) };
    case 'graphs': return { ...base, type: 10, graphs: a.value.map((g) => fromGraph(g, ctx, false)) };
    case 'other': return a.value;
  }
}

function fromTensor(t: Tensor, ctx?: EncodeContext): ProtoRecord {
  const out: ProtoRecord = { name: orUndefined(t.name), data_type: t.dataType, dims: t.dims, doc_string: orUndefined(t.docString) };
  if (t.external) {
    out.data_location = 1;
    out.external_data = fromMetadata({
      location: t.external.location,
      offset: String(t.external.offset),
      ...(t.external.length !== undefined ? { length: String(t.external.length) } : {}),
    });
  } else if (t.strings) {
    out.string_data = t.strings;
  } else if (t.raw && ctx && t.raw.byteLength > ctx.externalizeAbove) {
    const path = `gradient-doctor-weight-${ctx.external.length}.bin`;
    ctx.external.push({ path, data: t.raw });
    out.data_location = 1;
    out.external_data = fromMetadata({ location: path, offset: '0', length: String(t.raw.byteLength) });
  } else {
    out.raw_data = t.raw ?? new Uint8Array();
  }
  return out;
}

function fromValueInfo(v: ValueInfo): ProtoRecord {
  return { name: v.name, type: v.type ? fromValueType(v.type) : undefined, doc_string: v.docString };
}

function fromValueType(t: ValueType): ProtoRecord {
  if (t.kind === 'other') return t.proto;
  const shape = t.shape
    ? { dim: t.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : typeof d === 'string' ? { dim_param: d } : {})) }
    : undefined;
  return { tensor_type: { elem_type: t.elemType, shape } };
}

/** Leaves proto2 optional fields unset rather than writing their default value. */
function orUndefined<T extends string | number>(v: T | undefined): T | undefined {
  return v === '' || v === 0 ? undefined : v;
}

function fromMetadata(m: Record<string, string>): ProtoRecord[] {
  return Object.entries(m).map(([key, value]) => ({ key, value }));
}
