/**
 * The graph IR: a plain, mutable picture of an ONNX model that later stages cut into subgraphs and
 * extend with new nodes, and that encodes back into a valid ModelProto.
 */

/** ONNX TensorProto.DataType codes. */
export enum DataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
}

/** Where an initializer's bytes live when the model keeps them in a separate file. */
export interface ExternalRef {
  /** The location as written in the model, relative to the model's folder. */
  location: string;
  offset: number;
  /** Byte length; undefined means "to the end of the file". */
  length?: number;
}

/** A constant tensor: an initializer or the value of a tensor attribute. */
export interface Tensor {
  name: string;
  dataType: DataType;
  dims: number[];
  /** Little-endian element bytes (a view into the model file where possible: do not mutate). */
  raw?: Uint8Array;
  /** String elements, for STRING tensors. */
  strings?: Uint8Array[];
  /** Set while the bytes are still in an external file; cleared once they are loaded into `raw`. */
  external?: ExternalRef;
  docString?: string;
}

/** One dimension of a tensor type: a size, a symbolic name, or unknown. */
export type Dim = number | string | null;

/** The type of a graph input, output or intermediate value. */
export type ValueType =
  | { kind: 'tensor'; elemType: DataType; shape?: Dim[] }
  | { kind: 'other'; description: string; proto: Record<string, unknown> };

/** A named, typed value of a graph's signature. */
export interface ValueInfo {
  name: string;
  type?: ValueType;
  docString?: string;
}

/** A node attribute, typed by its ONNX attribute type. */
export type Attribute =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'tensor'; value: Tensor }
  | { name: string; type: 'graph'; value: Graph }
  | { name: string; type: 'floats'; value: number[] }
  | { name: string; type: 'ints'; value: number[] }
  | { name: string; type: 'strings'; value: string[] }
  | { name: string; type: 'tensors'; value: Tensor[] }
  | { name: string; type: 'graphs'; value: Graph[] }
  | { name: string; type: 'other'; value: Record<string, unknown> };

/** One operator application. */
export interface Node {
  name: string;
  opType: string;
  /** '' for the default ai.onnx domain. */
  domain: string;
  /** Input tensor names; '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: Attribute[];
  docString?: string;
  /** node.metadata_props (IR 10), where newer exporters put source locations. */
  metadata: Record<string, string>;
  overload?: string;
}

/** A computation graph (the main graph, or the body of If/Loop/Scan). */
export interface Graph {
  name: string;
  nodes: Node[];
  /** Initializers by name, in file order. */
  initializers: Map<string, Tensor>;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
  docString?: string;
  metadata: Record<string, string>;
  /** Fields kept only to be written back unchanged (sparse initializers, quantization annotations). */
  passthrough: Record<string, unknown>;
}

/** An operator set the model imports. */
export interface OpsetImport {
  domain: string;
  version: number;
}

/** A whole model. */
export interface Model {
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  graph: Graph;
  metadata: Record<string, string>;
  /** Fields kept only to be written back unchanged (functions, training info). */
  passthrough: Record<string, unknown>;
}

/** The version of the default ONNX domain the model imports (0 when it imports none). */
export function defaultOpset(model: Model): number {
  return model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

/** The attribute of `node` named `name`, if present. */
export function getAttribute(node: Node, name: string): Attribute | undefined {
  return node.attributes.find((a) => a.name === name);
}

/** A readable name for a data type code ('float32', 'int64', ...). */
export function dataTypeName(t: DataType): string {
  return DATA_TYPE_NAMES[t] ?? `type ${t}`;
}

const DATA_TYPE_NAMES: Record<number, string> = {
  [DataType.FLOAT]: 'float32',
  [DataType.UINT8]: 'uint8',
  [DataType.INT8]: 'int8',
  [DataType.UINT16]: 'uint16',
  [DataType.INT16]: 'int16',
  [DataType.INT32]: 'int32',
  [DataType.INT64]: 'int64',
  [DataType.STRING]: 'string',
  [DataType.BOOL]: 'bool',
  [DataType.FLOAT16]: 'float16',
  [DataType.DOUBLE]: 'float64',
  [DataType.UINT32]: 'uint32',
  [DataType.UINT64]: 'uint64',
  [DataType.COMPLEX64]: 'complex64',
  [DataType.COMPLEX128]: 'complex128',
  [DataType.BFLOAT16]: 'bfloat16',
};

/** Bytes per element for fixed-size types; undefined for strings and sub-byte types. */
export function bytesPerElement(t: DataType): number | undefined {
  return BYTES[t];
}

const BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.UINT8]: 1,
  [DataType.INT8]: 1,
  [DataType.UINT16]: 2,
  [DataType.INT16]: 2,
  [DataType.INT32]: 4,
  [DataType.INT64]: 8,
  [DataType.BOOL]: 1,
  [DataType.FLOAT16]: 2,
  [DataType.DOUBLE]: 8,
  [DataType.UINT32]: 4,
  [DataType.UINT64]: 8,
  [DataType.COMPLEX64]: 8,
  [DataType.COMPLEX128]: 16,
  [DataType.BFLOAT16]: 2,
};

/** Number of elements of a tensor with these dims. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}
