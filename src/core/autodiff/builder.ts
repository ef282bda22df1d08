import { float32Tensor } from '../onnx/tensorData';
import { DataType, type Attribute, type Node, type Tensor } from '../onnx/types';

/** Attribute values as rules write them; the builder infers the ONNX attribute type. */
export type AttrValue = number | string | number[] | { ints: number[] } | { float: number } | Tensor;

/**
 * Appends nodes and constants to a derivative graph under construction. Every name it makes is
 * fresh (prefixed, counted), so derivative nodes never collide with the model's own names.
 */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly constants = new Map<string, Tensor>();
  private counter = 0;
  /** Scalar constants already made, by type and value: one initializer each, however many nodes read it. */
  private readonly scalars = new Map<string, string>();

  constructor(private readonly prefix: string) {}

  /** A fresh tensor name. */
  fresh(hint: string): string {
    return `${this.prefix}${hint}_${this.counter++}`;
  }

  /** Adds a node with one output and returns the output's name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, hint = opType): string {
    return this.opMulti(opType, inputs, 1, attrs, hint)[0];
  }

  /** Adds a node with `outputs` outputs and returns their names. */
  opMulti(opType: string, inputs: string[], outputs: number, attrs: Record<string, AttrValue> = {}, hint = opType): string[] {
    const outs = Array.from({ length: outputs }, () => this.fresh(hint));
    this.nodes.push({ name: this.fresh(`${hint}_node`), opType, domain: '', inputs, outputs: outs, attributes: toAttributes(attrs), metadata: {} });
    return outs;
  }

  /** An int64 constant (shapes, axes). */
  int64(values: number[], hint = 'i64'): string {
    const name = this.fresh(hint);
    const data = BigInt64Array.from(values.map(BigInt));
    this.constants.set(name, { name, dataType: DataType.INT64, dims: [values.length], raw: new Uint8Array(data.buffer) });
    return name;
  }

  /** A scalar constant of the given float type (shared by every node that reads the same value). */
  scalar(value: number, dataType: DataType = DataType.FLOAT, hint = 'c'): string {
    const key = `${dataType}:${Object.is(value, -0) ? '-0' : value}`;
    let name = this.scalars.get(key);
    if (!name) {
      name = this.tensor([], [value], dataType, hint);
      this.scalars.set(key, name);
    }
    return name;
  }

  /** A float constant of any shape. */
  tensor(dims: number[], values: ArrayLike<number>, dataType: DataType = DataType.FLOAT, hint = 'c'): string {
    const name = this.fresh(hint);
    if (dataType === DataType.DOUBLE) {
      const data = Float64Array.from(values);
      this.constants.set(name, { name, dataType, dims, raw: new Uint8Array(data.buffer) });
    } else {
      this.constants.set(name, { ...float32Tensor(name, dims, values) });
    }
    return name;
  }
}

function toAttributes(attrs: Record<string, AttrValue>): Attribute[] {
  return Object.entries(attrs).map(([name, v]): Attribute => {
    if (typeof v === 'number') return Number.isInteger(v) ? { name, type: 'int', value: v } : { name, type: 'float', value: v };
    if (typeof v === 'string') return { name, type: 'string', value: v };
    if (Array.isArray(v)) return { name, type: 'ints', value: v };
    if ('ints' in v) return { name, type: 'ints', value: v.ints };
    if ('float' in v) return { name, type: 'float', value: v.float };
    return { name, type: 'tensor', value: v };
  });
}
