import { DoctorError } from '../errors';
import { bytesPerElement, dataTypeName, type DataType, type Tensor } from './types';

/** ONNX data types stored one byte per element (float8 variants) or two per byte (4-bit types). */
const BYTE_TYPES = new Set([17, 18, 19, 20]);
const NIBBLE_TYPES = new Set([21, 22, 23]);

/**
 * The number of elements `dims` describe, after checking that every dim is a non-negative integer
 * and that the count stays exact in float64. Throws a 'corrupt-model' {@link DoctorError} naming
 * `what` otherwise.
 */
export function checkedElementCount(dims: readonly number[], what: string): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new DoctorError('corrupt-model', `${what} has an invalid dimension ${d} in [${dims.join(', ')}]`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new DoctorError('corrupt-model', `${what} has dims [${dims.join(', ')}], which describe more than 2^53 elements`);
  return n;
}

/** The bytes that `count` elements of `dataType` take, or undefined for strings and unknown types. */
export function byteLengthOf(dataType: DataType, count: number): number | undefined {
  if (NIBBLE_TYPES.has(dataType)) return Math.ceil(count / 2);
  if (BYTE_TYPES.has(dataType)) return count;
  const size = bytesPerElement(dataType);
  return size === undefined ? undefined : count * size;
}

/**
 * Checks that a tensor's bytes are exactly as many as its dims and type call for, before anything
 * allocates an array of its size: a tensor whose dims claim 2^31 elements but that holds 8 bytes is
 * refused here, in microseconds, instead of sending the analysis after 16 GB. `held` is the byte
 * length the tensor's data has (raw, typed fields or its slice of an external file).
 */
export function checkTensorBytes(tensor: Pick<Tensor, 'name' | 'dataType' | 'dims'>, held: number, what = `tensor '${tensor.name}'`): void {
  const count = checkedElementCount(tensor.dims, what);
  const expected = byteLengthOf(tensor.dataType, count);
  if (expected === undefined || expected === held) return;
  throw new DoctorError(
    'corrupt-model',
    `${what} has dims [${tensor.dims.join(', ')}] (${count} ${dataTypeName(tensor.dataType)} element${count === 1 ? '' : 's'}, ${expected} bytes) but holds ${held} bytes`,
  );
}
