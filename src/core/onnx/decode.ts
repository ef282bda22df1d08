import { DoctorError, errorMessage, isDoctorError } from '../errors';
import { modelProtoType, type ProtoRecord } from './proto';
import { sniffModelBytes } from './sniff';
import { checkedElementCount, checkTensorBytes } from './tensorSize';
import { scanTopLevel } from './wire';
import {
  DataType,
  type Attribute,
  type Dim,
  type ExternalRef,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  type ValueInfo,
  type ValueType,
} from './types';

/**
 * Decodes the bytes of an .onnx file into the graph IR. Initializer bytes stay views into `bytes`
 * (no copy), so a 1 GB model is held once. Throws {@link DoctorError} naming `file` when the bytes
 * are not a model.
 */
export function decodeModel(bytes: Uint8Array, file?: string): Model {
  sniffModelBytes(bytes, file);
  let proto: ProtoRecord;
  try {
    proto = modelProtoType().decode(bytes) as unknown as ProtoRecord;
  } catch (e) {
    throw new DoctorError('corrupt-model', protobufProblem(bytes, e), file);
  }
  try {
    return toModel(proto);
  } catch (e) {
    if (isDoctorError(e) && !e.file) throw new DoctorError(e.kind, e.message, file);
    throw e;
  }
}

/** Why protobuf decoding failed, in words: cut short, or complete but damaged inside. */
function protobufProblem(bytes: Uint8Array, e: unknown): string {
  if (e instanceof RangeError && /call stack/i.test(e.message)) return 'the file is corrupt: its messages nest deeper than any model does';
  const detail = errorMessage(e).replace(/^index out of range\b.*/, 'a length runs past the end of its message');
  const scan = scanTopLevel(bytes);
  if (scan.state === 'ends-early') {
    return `the file ends before the model does: its part starting at byte ${scan.at} needs ${scan.needed} more bytes than the file has (truncated, for example by an interrupted download or copy)`;
  }
  if (scan.state === 'bad-tag') return `the file is corrupt: byte ${scan.at} does not start an ONNX ModelProto field`;
  return `the file is corrupt: it is complete, but the data inside it is damaged (${detail})`;
}

function toModel(proto: ProtoRecord): Model {
  const graph = proto.graph as ProtoRecord | null | undefined;
  if (!graph) throw new DoctorError('corrupt-model', 'the model has no graph (ModelProto.graph is missing)');
  const model: Model = {
    irVersion: num(proto.ir_version),
    opsetImports: list(proto.opset_import).map((o) => ({ domain: str(o.domain), version: num(o.version) })),
    producerName: str(proto.producer_name),
    producerVersion: str(proto.producer_version),
    domain: str(proto.domain),
    modelVersion: num(proto.model_version),
    docString: str(proto.doc_string),
    graph: toGraph(graph),
    metadata: toMetadata(proto.metadata_props),
    passthrough: pick(proto, ['training_info', 'functions']),
  };
  if (model.irVersion <= 0) throw new DoctorError('corrupt-model', 'ModelProto.ir_version is missing or zero');
  if (model.opsetImports.length === 0 && model.irVersion >= 3) {
    throw new DoctorError('corrupt-model', 'the model imports no operator set (ModelProto.opset_import is empty)');
  }
  return model;
}

function toGraph(g: ProtoRecord): Graph {
  const initializers = new Map<string, Tensor>();
  for (const t of list(g.initializer)) {
    const tensor = toTensor(t, `initializer '${str(t.name)}'`);
    initializers.set(tensor.name, tensor);
  }
  return {
    name: str(g.name),
    nodes: list(g.node).map(toNode),
    initializers,
    inputs: list(g.input).map(toValueInfo),
    outputs: list(g.output).map(toValueInfo),
    valueInfo: list(g.value_info).map(toValueInfo),
    docString: optStr(g.doc_string),
    metadata: toMetadata(g.metadata_props),
    passthrough: pick(g, ['sparse_initializer', 'quantization_annotation']),
  };
}

function toNode(n: ProtoRecord): Node {
  return {
    name: str(n.name),
    opType: str(n.op_type),
    domain: str(n.domain),
    inputs: (n.input as string[] | undefined) ?? [],
    outputs: (n.output as string[] | undefined) ?? [],
    attributes: list(n.attribute).map((a) => toAttribute(a, str(n.name) || str(n.op_type))),
    docString: optStr(n.doc_string),
    metadata: toMetadata(n.metadata_props),
    overload: optStr(n.overload),
  };
}

const ATTR_TYPES: Record<number, Attribute['type']> = {
  1: 'float', 2: 'int', 3: 'string', 4: 'tensor', 5: 'graph', 6: 'floats', 7: 'ints', 8: 'strings', 9: 'tensors', 10: 'graphs',
};

function toAttribute(a: ProtoRecord, node: string): Attribute {
  const name = str(a.name);
  const where = `attribute '${name}' of node '${node}'`;
  const message = (field: string, what: string): ProtoRecord => {
    const v = a[field] as ProtoRecord | null | undefined;
    if (!v) throw new DoctorError('corrupt-model', `${where} is declared a ${what} but holds none`);
    return v;
  };
  const type = ATTR_TYPES[num(a.type)];
  const utf8 = new TextDecoder();
  switch (type) {
    case 'float': return { name, type, value: num(a.f) };
    case 'int': return { name, type, value: num(a.i) };
    case 'string': return { name, type, value: utf8.decode((a.s as Uint8Array | undefined) ?? new Uint8Array()) };
    case 'tensor': return { name, type, value: toTensor(message('t', 'tensor'), `the tensor of ${where}`) };
    case 'graph': return { name, type, value: toGraph(message('g', 'graph')) };
    case 'floats': return { name, type, value: ((a.floats as number[] | undefined) ?? []).map(Number) };
    case 'ints': return { name, type, value: ((a.ints as number[] | undefined) ?? []).map(Number) };
    case 'strings': return { name, type, value: ((a.strings as Uint8Array[] | undefined) ?? []).map((s) => utf8.decode(s)) };
    case 'tensors': return { name, type, value: list(a.tensors).map((t) => toTensor(t, `a tensor of ${where}`)) };
    case 'graphs': return { name, type, value: list(a.graphs).map(toGraph) };
    default: return { name, type: 'other', value: a };
  }
}

/**
 * A tensor of the model, its bytes checked against its dims before anything allocates its size;
 * `what` names it in messages ("initializer 'w'").
 */
function toTensor(t: ProtoRecord, what: string): Tensor {
  const dataType = num(t.data_type) as DataType;
  const dims = ((t.dims as number[] | undefined) ?? []).map(Number);
  const tensor: Tensor = { name: str(t.name), dataType, dims, docString: optStr(t.doc_string) };
  if (num(t.data_location) === 1) {
    tensor.external = toExternalRef(t, what);
    checkedElementCount(dims, what);
  } else if (dataType === DataType.STRING) {
    tensor.strings = (t.string_data as Uint8Array[] | undefined) ?? [];
    const count = checkedElementCount(dims, what);
    if (tensor.strings.length !== count) {
      throw new DoctorError('corrupt-model', `${what} has dims [${dims.join(', ')}] (${count} strings) but holds ${tensor.strings.length} strings`);
    }
  } else {
    tensor.raw = has(t, 'raw_data') ? (t.raw_data as Uint8Array) : typedFieldBytes(t, dataType);
    checkTensorBytes(tensor, tensor.raw.byteLength, what);
  }
  return tensor;
}

function toExternalRef(t: ProtoRecord, what: string): ExternalRef {
  const entries = toMetadata(t.external_data);
  const count = (key: 'offset' | 'length'): number | undefined => {
    const text = entries[key];
    if (text === undefined || text === '') return undefined;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) throw new DoctorError('corrupt-model', `${what} keeps its data at ${key} '${text}' of its external file, which is not a byte count`);
    return n;
  };
  return { location: entries.location ?? '', offset: count('offset') ?? 0, length: count('length') };
}

/** Packs the legacy typed fields (float_data, int32_data, ...) into little-endian bytes. */
function typedFieldBytes(t: ProtoRecord, dataType: DataType): Uint8Array {
  const pickNums = (k: string): number[] => ((t[k] as number[] | undefined) ?? []).map(Number);
  switch (dataType) {
    case DataType.FLOAT: return bytesOf(Float32Array.from(pickNums('float_data')));
    case DataType.DOUBLE: return bytesOf(Float64Array.from(pickNums('double_data')));
    case DataType.INT64: return bytesOf(BigInt64Array.from(pickNums('int64_data').map(BigInt)));
    case DataType.UINT64: case DataType.UINT32: {
      const v = pickNums('uint64_data');
      return dataType === DataType.UINT32 ? bytesOf(Uint32Array.from(v)) : bytesOf(BigUint64Array.from(v.map(BigInt)));
    }
    case DataType.INT32: return bytesOf(Int32Array.from(pickNums('int32_data')));
    case DataType.INT16: return bytesOf(Int16Array.from(pickNums('int32_data')));
    case DataType.UINT16: case DataType.FLOAT16: case DataType.BFLOAT16: return bytesOf(Uint16Array.from(pickNums('int32_data')));
    case DataType.INT8: return bytesOf(Int8Array.from(pickNums('int32_data')));
    case DataType.UINT8: case DataType.BOOL: return Uint8Array.from(pickNums('int32_data'));
    case DataType.COMPLEX64: return bytesOf(Float32Array.from(pickNums('float_data')));
    case DataType.COMPLEX128: return bytesOf(Float64Array.from(pickNums('double_data')));
    default: return Uint8Array.from(pickNums('int32_data'));
  }
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function toValueInfo(v: ProtoRecord): ValueInfo {
  return { name: str(v.name), type: toValueType(v.type as ProtoRecord | undefined), docString: optStr(v.doc_string) };
}

function toValueType(t: ProtoRecord | undefined): ValueType | undefined {
  if (!t) return undefined;
  const tensor = t.tensor_type as ProtoRecord | undefined;
  if (!tensor || !has(t, 'tensor_type')) {
    const kind = Object.keys(t).find((k) => k.endsWith('_type')) ?? 'unknown';
    return { kind: 'other', description: kind.replace(/_type$/, ''), proto: t };
  }
  const shape = tensor.shape as ProtoRecord | undefined;
  const dims: Dim[] | undefined = shape
    ? list(shape.dim).map((d) => (has(d, 'dim_value') ? num(d.dim_value) : has(d, 'dim_param') ? str(d.dim_param) : null))
    : undefined;
  return { kind: 'tensor', elemType: num(tensor.elem_type) as DataType, shape: dims };
}

function toMetadata(entries: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of list(entries)) out[str(e.key)] = str(e.value);
  return out;
}

function pick(r: ProtoRecord, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = r[k];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) out[k] = v;
  }
  return out;
}

/** True when the decoded message set field `k` itself (protobufjs puts defaults on the prototype). */
function has(r: ProtoRecord, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(r, k);
}

function list(v: unknown): ProtoRecord[] {
  return (v as ProtoRecord[] | undefined) ?? [];
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function optStr(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0);
}
