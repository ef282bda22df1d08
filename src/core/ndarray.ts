/** Element types that cross between the engine and a tensor runner (onnxruntime's names). */
export type ElementType = 'float32' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool' | 'float16' | 'int16' | 'uint16' | 'uint32' | 'uint64';

/** The typed array that holds each element type. */
export interface ElementArrays {
  float32: Float32Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
  float16: Uint16Array;
  int16: Int16Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
}

/** A dense row-major n-dimensional array: the value that flows into and out of model runs. */
export interface NdArray<T extends ElementType = ElementType> {
  dtype: T;
  dims: number[];
  data: ElementArrays[T];
}

/** Number of elements of an array with these dims. */
export function sizeOf(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Element values as plain numbers (bigints converted; precision beyond 2^53 is lost). */
export function toNumbers(a: NdArray): Float64Array {
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < a.data.length; i++) out[i] = Number(a.data[i]);
  return out;
}
