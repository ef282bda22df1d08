import { DoctorError } from '../errors';
import { byteLengthOf, checkedElementCount } from './tensorSize';
import { bytesPerElement, DataType, dataTypeName, type Tensor } from './types';

/** Element values of a numeric tensor as float64 (int64 beyond 2^53 loses precision). */
export function tensorToFloat64(t: Tensor): Float64Array {
  const raw = t.raw;
  if (!raw) throw new DoctorError('unsupported', `tensor '${t.name}' has no loaded data`);
  const read = ELEMENT_READERS[t.dataType];
  if (!read) throw new DoctorError('unsupported', `tensor '${t.name}' has element type ${dataTypeName(t.dataType)}, which is not numeric`);
  // Checked before allocating: the dims must describe exactly the bytes held.
  const n = checkedElementCount(t.dims, `tensor '${t.name}'`);
  const expected = byteLengthOf(t.dataType, n);
  if (expected !== raw.byteLength) {
    throw new DoctorError('corrupt-model', `tensor '${t.name}' has dims [${t.dims.join(', ')}] (${expected} bytes of ${dataTypeName(t.dataType)}) but holds ${raw.byteLength} bytes`);
  }
  const size = bytesPerElement(t.dataType) ?? 1;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = read(view, i * size);
  return out;
}

const ELEMENT_READERS: Partial<Record<DataType, (v: DataView, o: number) => number>> = {
  [DataType.FLOAT]: (v, o) => v.getFloat32(o, true),
  [DataType.DOUBLE]: (v, o) => v.getFloat64(o, true),
  [DataType.INT8]: (v, o) => v.getInt8(o),
  [DataType.UINT8]: (v, o) => v.getUint8(o),
  [DataType.BOOL]: (v, o) => v.getUint8(o),
  [DataType.INT16]: (v, o) => v.getInt16(o, true),
  [DataType.UINT16]: (v, o) => v.getUint16(o, true),
  [DataType.INT32]: (v, o) => v.getInt32(o, true),
  [DataType.UINT32]: (v, o) => v.getUint32(o, true),
  [DataType.INT64]: (v, o) => Number(v.getBigInt64(o, true)),
  [DataType.UINT64]: (v, o) => Number(v.getBigUint64(o, true)),
  [DataType.FLOAT16]: (v, o) => halfToFloat(v.getUint16(o, true)),
  [DataType.BFLOAT16]: (v, o) => new Float32Array(new Uint32Array([v.getUint16(o, true) << 16]).buffer)[0],
};

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** A float32 tensor holding `values`. */
export function float32Tensor(name: string, dims: number[], values: ArrayLike<number>): Tensor {
  const data = Float32Array.from(values);
  return { name, dataType: DataType.FLOAT, dims, raw: new Uint8Array(data.buffer) };
}
