import { unzipSync } from 'fflate';
import { parse as parseNpy, type DType } from 'npyjs';
import { DoctorError, errorMessage } from '../errors';
import type { ElementType, NdArray } from '../ndarray';
import { sizeOf } from '../ndarray';
import type { ResolvedInput } from './signature';
import type { Sample } from './synthesize';

/** A sample file's name (for messages and .npy matching) and its bytes. */
export interface SampleFile {
  name: string;
  bytes: Uint8Array;
}

const NPY_TYPES: Partial<Record<DType, ElementType>> = {
  f4: 'float32', f8: 'float64', f2: 'float16', i8: 'int64', i4: 'int32', i2: 'int16', i1: 'int8', u1: 'uint8', u2: 'uint16', u4: 'uint32', u8: 'uint64', b1: 'bool',
};

/**
 * Reads user-provided samples: `.npy` (one array: the model's only input, or the input named like the
 * file), `.npz` (arrays named like the inputs) or `.json` (an object of input name to nested array or
 * `{ dims, data }`, or a list of such objects for several samples). Each file gives one sample (a
 * JSON list gives several). Shapes and element types are checked against the model's inputs.
 */
export function loadSamples(files: SampleFile[], inputs: ResolvedInput[]): Sample[] {
  const samples: Sample[] = [];
  for (const file of files) {
    const lower = file.name.toLowerCase();
    if (lower.endsWith('.npz')) samples.push(fromArrays(readNpz(file), inputs, file.name));
    else if (lower.endsWith('.npy')) samples.push(fromArrays(readSingleNpy(file, inputs), inputs, file.name));
    else if (lower.endsWith('.json')) samples.push(...readJson(file, inputs).map((arrays) => fromArrays(arrays, inputs, file.name)));
    else throw new DoctorError('bad-input', 'sample files must be .npy, .npz or .json', file.name);
  }
  return samples;
}

function readNpy(bytes: Uint8Array, where: string): NdArray {
  let arr;
  try {
    const copy = new Uint8Array(bytes); // a copy: Buffer.slice would be a view into a shared pool
    arr = parseNpy(copy.buffer, { convertFloat16: false });
  } catch (e) {
    throw new DoctorError('bad-input', `not a valid .npy array (${errorMessage(e)})`, where);
  }
  const dtype = NPY_TYPES[arr.dtype];
  if (!dtype) throw new DoctorError('bad-input', `arrays of NumPy dtype '${arr.dtype}' cannot be fed to a model`, where);
  if (arr.fortranOrder) throw new DoctorError('bad-input', 'the array is in Fortran order; save it with np.ascontiguousarray', where);
  const data = dtype === 'float16' ? new Uint16Array(arr.data.buffer, arr.data.byteOffset, sizeOf(arr.shape)) : arr.data;
  return { dtype, dims: arr.shape, data: data as NdArray['data'] };
}

function readSingleNpy(file: SampleFile, inputs: ResolvedInput[]): Record<string, NdArray> {
  const stem = file.name.replace(/^.*[\\/]/, '').replace(/\.npy$/i, '');
  const target = inputs.length === 1 ? inputs[0].name : inputs.find((i) => i.name === stem)?.name;
  if (!target) {
    throw new DoctorError(
      'bad-input',
      `the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}) and no input is named '${stem}'; use an .npz with one array per input`,
      file.name,
    );
  }
  return { [target]: readNpy(file.bytes, file.name) };
}

function readNpz(file: SampleFile): Record<string, NdArray> {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(file.bytes);
  } catch (e) {
    throw new DoctorError('bad-input', `not a valid .npz archive (${errorMessage(e)})`, file.name);
  }
  const out: Record<string, NdArray> = {};
  for (const [entry, bytes] of Object.entries(entries)) {
    out[entry.replace(/\.npy$/, '')] = readNpy(bytes, `${file.name}:${entry}`);
  }
  return out;
}

type JsonValue = number | boolean | JsonValue[] | { dims?: number[]; shape?: number[]; data: unknown[]; dtype?: string };

function readJson(file: SampleFile, inputs: ResolvedInput[]): Array<Record<string, NdArray>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(file.bytes));
  } catch (e) {
    throw new DoctorError('bad-input', `not valid JSON (${errorMessage(e)})`, file.name);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((entry, k) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new DoctorError('bad-input', `sample ${k} must be an object mapping input names to arrays`, file.name);
    }
    const out: Record<string, NdArray> = {};
    for (const [name, value] of Object.entries(entry as Record<string, JsonValue>)) {
      const input = inputs.find((i) => i.name === name);
      if (!input) continue;
      out[name] = jsonArray(value, input, `${file.name}: sample ${k}, input '${name}'`);
    }
    return out;
  });
}

function jsonArray(value: JsonValue, input: ResolvedInput, where: string): NdArray {
  let dims: number[];
  let flat: unknown[];
  if (typeof value === 'object' && !Array.isArray(value) && value !== null) {
    dims = value.dims ?? value.shape ?? [value.data.length];
    flat = value.data.flat(Infinity as 1);
  } else {
    dims = [];
    let level: unknown = value;
    while (Array.isArray(level)) {
      dims.push(level.length);
      level = level[0];
    }
    flat = Array.isArray(value) ? value.flat(Infinity as 1) : [value];
  }
  if (flat.length !== sizeOf(dims)) throw new DoctorError('bad-input', `has ${flat.length} values for dims [${dims.join(', ')}] (ragged nesting?)`, where);
  if (flat.some((v) => typeof v !== 'number' && typeof v !== 'boolean')) throw new DoctorError('bad-input', 'holds values that are not numbers', where);
  const nums = flat.map(Number);
  const dtype = input.dtype;
  const isInt = !(dtype === 'float32' || dtype === 'float64' || dtype === 'float16');
  if (isInt && nums.some((v) => !Number.isInteger(v))) throw new DoctorError('bad-input', `holds non-integers, but the input is ${dtype}`, where);
  const data =
    dtype === 'float32' ? Float32Array.from(nums)
    : dtype === 'float64' ? Float64Array.from(nums)
    : dtype === 'int64' ? BigInt64Array.from(nums.map(BigInt))
    : dtype === 'int32' ? Int32Array.from(nums)
    : dtype === 'bool' || dtype === 'uint8' ? Uint8Array.from(nums)
    : undefined;
  if (!data) throw new DoctorError('bad-input', `JSON samples for ${dtype} inputs are not supported; use .npy`, where);
  return { dtype, dims, data } as NdArray;
}

/** Checks a file's arrays against the inputs: every input present, element types equal, fixed dims equal. */
function fromArrays(arrays: Record<string, NdArray>, inputs: ResolvedInput[], where: string): Sample {
  const sample: Sample = {};
  const symbols = new Map<string, number>();
  for (const input of inputs) {
    const a = arrays[input.name];
    if (!a) {
      const have = Object.keys(arrays);
      throw new DoctorError('bad-input', `has no array for input '${input.name}'${have.length ? ` (it has: ${have.join(', ')})` : ''}`, where);
    }
    if (a.dtype !== input.dtype) {
      throw new DoctorError('bad-input', `input '${input.name}' expects ${input.dtype}, but the file holds ${a.dtype} (convert it, e.g. arr.astype(np.${npName(input.dtype)}))`, where);
    }
    if (a.dims.length !== input.declared.length) {
      throw new DoctorError('bad-input', `input '${input.name}' has rank ${input.declared.length} ${fmt(input.declared)}, but the array has shape ${fmt(a.dims)}`, where);
    }
    input.declared.forEach((d, axis) => {
      const got = a.dims[axis];
      if (typeof d === 'number' && d > 0 && d !== got) {
        throw new DoctorError('bad-input', `input '${input.name}' needs size ${d} on axis ${axis} ${fmt(input.declared)}, but the array has shape ${fmt(a.dims)}`, where);
      }
      if (typeof d === 'string') {
        const prev = symbols.get(d);
        if (prev !== undefined && prev !== got) {
          throw new DoctorError('bad-input', `dimension '${d}' is ${prev} in one input but ${got} in input '${input.name}'`, where);
        }
        symbols.set(d, got);
      }
    });
    sample[input.name] = a;
  }
  return sample;
}

function fmt(dims: Array<number | string | null>): string {
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

function npName(t: ElementType): string {
  return t === 'bool' ? 'bool_' : t;
}
