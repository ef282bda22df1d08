import { DoctorError } from '../errors';
import type { ElementType } from '../ndarray';
import { DataType, dataTypeName, type Model, type ValueInfo } from '../onnx/types';

/** Default sizes for symbolic dimensions, by what their name suggests (documented in the README). */
export const DEFAULT_DIMENSIONS = {
  /** batch, N, batch_size, ...: one example per sample. */
  batch: 1,
  /** sequence, seq_len, time, length, tokens, ...: a short sequence. */
  sequence: 16,
  /** Anything else symbolic or unknown. */
  other: 1,
} as const;

const BATCH_NAME = /^(n|b|bs|batch.*|.*_batch|.*batch_size.*)$/i;
const SEQUENCE_NAME = /seq|len|time|step|token|frames?$|^t$|^s$|^l$/i;

/** An input of the model, with every dimension bound to a size. */
export interface ResolvedInput {
  name: string;
  dtype: ElementType;
  /** The declared dims (numbers, symbols, null for unknown). */
  declared: Array<number | string | null>;
  /** Concrete dims used for synthesized samples. */
  dims: number[];
}

/** How a symbolic dimension was bound, for the run facts. */
export interface DimensionBinding {
  input: string;
  axis: number;
  symbol: string | null;
  value: number;
  source: 'override' | 'default';
}

const ELEMENT_TYPES: Partial<Record<DataType, ElementType>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.FLOAT16]: 'float16',
  [DataType.INT64]: 'int64',
  [DataType.INT32]: 'int32',
  [DataType.INT16]: 'int16',
  [DataType.INT8]: 'int8',
  [DataType.UINT8]: 'uint8',
  [DataType.UINT16]: 'uint16',
  [DataType.UINT32]: 'uint32',
  [DataType.UINT64]: 'uint64',
  [DataType.BOOL]: 'bool',
};

/** The element type onnxruntime uses for an ONNX data type, or undefined when it has no plain one. */
export function elementTypeOf(t: DataType): ElementType | undefined {
  return ELEMENT_TYPES[t];
}

/** The model's real inputs (graph inputs that are not initializers). */
export function modelInputs(model: Model): ValueInfo[] {
  return model.graph.inputs.filter((i) => !model.graph.initializers.has(i.name));
}

/**
 * Binds every input's symbolic or unknown dimension to a size: a user override by symbol name
 * first, then the documented default for what the name suggests.
 */
export function resolveInputs(
  model: Model,
  overrides: Record<string, number> = {},
  file?: string,
): { inputs: ResolvedInput[]; bindings: DimensionBinding[] } {
  const bindings: DimensionBinding[] = [];
  const inputs = modelInputs(model).map((info): ResolvedInput => {
    const type = info.type;
    if (!type || type.kind !== 'tensor') {
      throw new DoctorError('bad-input', `input '${info.name}' is ${type ? `a ${type.description}` : 'untyped'}, not a tensor; it cannot be synthesized`, file);
    }
    const dtype = elementTypeOf(type.elemType);
    if (!dtype) {
      throw new DoctorError(
        'bad-input',
        `input '${info.name}' has element type ${dataTypeName(type.elemType)}, which cannot be synthesized or fed to the analysis`,
        file,
      );
    }
    if (!type.shape) throw new DoctorError('bad-input', `input '${info.name}' has no declared shape (unknown rank); provide sample inputs`, file);
    const dims = type.shape.map((d, axis) => {
      if (typeof d === 'number' && d > 0) return d;
      const symbol = typeof d === 'string' ? d : null;
      const override = symbol !== null ? overrides[symbol] : undefined;
      const value = override ?? defaultFor(symbol, axis);
      bindings.push({ input: info.name, axis, symbol, value, source: override !== undefined ? 'override' : 'default' });
      return value;
    });
    return { name: info.name, dtype, declared: type.shape, dims };
  });
  return { inputs, bindings };
}

function defaultFor(symbol: string | null, axis: number): number {
  if (symbol === null) return axis === 0 ? DEFAULT_DIMENSIONS.batch : DEFAULT_DIMENSIONS.other;
  if (BATCH_NAME.test(symbol)) return DEFAULT_DIMENSIONS.batch;
  if (SEQUENCE_NAME.test(symbol)) return DEFAULT_DIMENSIONS.sequence;
  return DEFAULT_DIMENSIONS.other;
}
