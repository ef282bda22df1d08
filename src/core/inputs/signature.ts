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
  /** What sets it: `--dim KEY=SIZE` and the gradientDoctor.dimensions setting (the symbol, or `input:axis` for an unnamed one). */
  key: string;
  value: number;
  /** Set by the user, the documented default, or a larger size chosen because the model did not run at the default. */
  source: 'override' | 'default' | 'ladder';
  /** Why a 'ladder' size (the sizes tried and what failed). */
  reason?: string;
}

/** Sizes chosen for default-bound dimensions, by binding key, and why (see sizeLadder.ts). */
export interface ChosenSizes {
  sizes: Record<string, number>;
  reason: string;
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
 * Binds every input's symbolic or unknown dimension to a size: a user override by `input:axis`
 * (which reaches unnamed dimensions) or by symbol name first, then a size `chosen` for it, then the
 * documented default for what the name suggests.
 */
export function resolveInputs(
  model: Model,
  overrides: Record<string, number> = {},
  file?: string,
  chosen?: ChosenSizes,
): { inputs: ResolvedInput[]; bindings: DimensionBinding[] } {
  const infos = modelInputs(model);
  checkOverrides(infos, overrides, file);
  const bindings: DimensionBinding[] = [];
  const inputs = infos.map((info): ResolvedInput => {
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
    const rank = type.shape.length;
    const dims = type.shape.map((d, axis) => {
      if (typeof d === 'number' && d > 0) return d;
      const symbol = typeof d === 'string' ? d : null;
      const key = dimensionKey(info.name, axis, symbol);
      const override = overrides[`${info.name}:${axis}`] ?? overrides[`${info.name}:${axis - rank}`] ?? (symbol !== null ? overrides[symbol] : undefined);
      const picked = chosen?.sizes[key];
      const binding: DimensionBinding = override !== undefined ? { input: info.name, axis, symbol, key, value: override, source: 'override' }
        : picked !== undefined ? { input: info.name, axis, symbol, key, value: picked, source: 'ladder', reason: chosen?.reason }
        : { input: info.name, axis, symbol, key, value: defaultFor(symbol, axis), source: 'default' };
      bindings.push(binding);
      return binding.value;
    });
    return { name: info.name, dtype, declared: type.shape, dims };
  });
  return { inputs, bindings };
}

/** The `--dim` key of a dimension: its symbol, or `input:axis` when it has no name. */
export function dimensionKey(input: string, axis: number, symbol: string | null): string {
  return symbol ?? `${input}:${axis}`;
}

/** What a dimension's name (or, unnamed, its position) says it is; batch dimensions stay at their default in the size ladder. */
export function dimensionRole(symbol: string | null, axis: number): 'batch' | 'sequence' | 'other' {
  if (symbol === null) return axis === 0 ? 'batch' : 'other';
  if (BATCH_NAME.test(symbol)) return 'batch';
  return SEQUENCE_NAME.test(symbol) ? 'sequence' : 'other';
}

/**
 * Refuses a size that is not a positive integer, and an `input:axis` override that names an input of
 * the model but not one of its symbolic or unknown axes.
 */
function checkOverrides(infos: ValueInfo[], overrides: Record<string, number>, file?: string): void {
  for (const key of Object.keys(overrides)) {
    const size = overrides[key];
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new DoctorError('bad-input', `the size of dimension '${key}' must be a positive integer, not ${JSON.stringify(size)} (--dim or the gradientDoctor.dimensions setting)`, file);
    }
    const m = /^(.*):(-?\d+)$/.exec(key);
    const info = m ? infos.find((i) => i.name === m[1]) : undefined;
    if (!m || !info || info.type?.kind !== 'tensor' || !info.type.shape) continue;
    const shape = info.type.shape;
    const axis = Number(m[2]) < 0 ? Number(m[2]) + shape.length : Number(m[2]);
    if (axis < 0 || axis >= shape.length) {
      throw new DoctorError('bad-input', `--dim ${key}=${overrides[key]}: input '${info.name}' has ${shape.length} axes (0 to ${shape.length - 1})${inVsCode(key)}`, file);
    }
    const d = shape[axis];
    if (typeof d === 'number' && d > 0) {
      throw new DoctorError('bad-input', `--dim ${key}=${overrides[key]}: axis ${axis} of input '${info.name}' has the fixed size ${d}; only symbolic or unknown sizes can be set${inVsCode(key)}`, file);
    }
  }
}

/**
 * Where an `input:axis` key that does not fit came from in VS Code: the setting is shared by every
 * model in the workspace, so a key meant for another model with an input of the same name lands here.
 */
function inVsCode(key: string): string {
  return ` (in VS Code: the key '${key}' of the gradientDoctor.dimensions setting, which applies to every model in the workspace; it may be meant for another model with an input of that name)`;
}

function defaultFor(symbol: string | null, axis: number): number {
  const role = dimensionRole(symbol, axis);
  return role === 'batch' ? DEFAULT_DIMENSIONS.batch : role === 'sequence' ? DEFAULT_DIMENSIONS.sequence : DEFAULT_DIMENSIONS.other;
}
