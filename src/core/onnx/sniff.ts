import { DoctorError } from '../errors';

const SIGNATURES: Array<[number[], string]> = [
  [[0x89, 0x50, 0x4e, 0x47], 'a PNG image'],
  [[0xff, 0xd8, 0xff], 'a JPEG image'],
  [[0x47, 0x49, 0x46, 0x38], 'a GIF image'],
  [[0x25, 0x50, 0x44, 0x46], 'a PDF document'],
  [[0x89, 0x48, 0x44, 0x46], 'an HDF5 file (a Keras .h5 model?); export it to ONNX first'],
  [[0x50, 0x4b, 0x03, 0x04], 'a zip archive (a PyTorch .pt checkpoint or an .npz?); export the model with torch.onnx.export first'],
  [[0x1f, 0x8b], 'a gzip archive; decompress it first'],
  [[0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59], 'a NumPy .npy array, not a model'],
  [[0x80, 0x02], 'a Python pickle (a PyTorch checkpoint?); export the model with torch.onnx.export first'],
];

/** ModelProto's field numbers with their wire types (0 varint, 2 length-delimited). */
const MODEL_FIELDS = new Map<number, number>([
  [1, 0], [2, 2], [3, 2], [4, 2], [5, 0], [6, 2], [7, 2], [8, 2], [14, 2], [20, 2], [25, 2], [26, 2],
]);

/**
 * Refuses bytes that are clearly not an ONNX ModelProto before protobuf decoding is attempted, so the
 * user hears "this is a PNG image" rather than a protobuf wire-format error.
 */
export function sniffModelBytes(bytes: Uint8Array, file?: string): void {
  if (bytes.length === 0) throw new DoctorError('empty-file', 'the file is empty (0 bytes), so it holds no ONNX model', file);
  for (const [magic, what] of SIGNATURES) {
    if (magic.every((b, i) => bytes[i] === b)) throw new DoctorError('not-onnx', `this is ${what}, not an ONNX model`, file);
  }
  if (bytes.length >= 8 && String.fromCharCode(...bytes.subarray(4, 8)) === 'TFL3') {
    throw new DoctorError('not-onnx', 'this is a TensorFlow Lite model, not an ONNX model', file);
  }
  if (looksLikeText(bytes)) {
    const head = new TextDecoder().decode(bytes.subarray(0, 40)).split('\n')[0];
    throw new DoctorError('not-onnx', `this is a text file ("${head}…"), not a binary ONNX model`, file);
  }
  const tag = bytes[0];
  const field = tag >> 3;
  const wire = tag & 7;
  if (MODEL_FIELDS.get(field) !== wire) {
    throw new DoctorError('not-onnx', `the first byte (0x${tag.toString(16).padStart(2, '0')}) does not start an ONNX ModelProto`, file);
  }
}

function looksLikeText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 64);
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    const printable = c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127);
    if (!printable) return false;
  }
  // ModelProto starts with a field tag; a valid model whose first 64 bytes are all printable
  // ASCII would need an ir_version tag (0x08) followed by printable bytes, which we allow.
  return bytes[0] !== 0x08;
}
