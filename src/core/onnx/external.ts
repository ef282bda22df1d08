import { DoctorError } from '../errors';
import { checkTensorBytes } from './tensorSize';
import type { Graph, Model, Tensor } from './types';

/** Reads the external data files a model refers to; implemented over the file system by the runtime. */
export interface ExternalDataReader {
  /**
   * The whole content of `location` (already checked by {@link checkExternalLocation}) in the model's
   * folder; refuses anything but a regular file (a folder, a named pipe) with a DoctorError.
   */
  read(location: string): Uint8Array;
}

/**
 * Refuses an external-data location that could reach outside the model's own folder: empty, absolute
 * (POSIX or Windows), or with a `..` segment. The reader must still refuse symlinks that lead out.
 */
export function checkExternalLocation(location: string, tensor: string, file?: string): void {
  const problem =
    location.length === 0 ? 'is empty'
    : location.includes('\0') ? 'contains a NUL byte'
    : /^([a-zA-Z]:)?[\\/]/.test(location) ? 'is an absolute path'
    : location.split(/[\\/]/).includes('..') ? "contains '..'"
    : undefined;
  if (problem) {
    throw new DoctorError(
      'external-data',
      `initializer '${tensor}' keeps its data at '${location}', which ${problem}; external data must lie inside the model's folder`,
      file,
    );
  }
}

/** True when some initializer of the model keeps its bytes in an external file. */
export function hasExternalData(model: Model): boolean {
  return externalTensors(model.graph).length > 0;
}

/**
 * Loads every external initializer's bytes as a view into its data file (each file read once), so
 * the rest of the engine sees ordinary in-memory tensors.
 */
export function resolveExternalData(model: Model, reader: ExternalDataReader, file?: string): string[] {
  const files = new Map<string, Uint8Array>();
  for (const tensor of externalTensors(model.graph)) {
    const ref = tensor.external;
    if (!ref) continue;
    checkExternalLocation(ref.location, tensor.name, file);
    let data = files.get(ref.location);
    if (!data) {
      data = reader.read(ref.location);
      files.set(ref.location, data);
    }
    const end = ref.length === undefined ? data.byteLength : ref.offset + ref.length;
    if (ref.offset < 0 || ref.offset > data.byteLength || end > data.byteLength) {
      throw new DoctorError(
        'external-data',
        `initializer '${tensor.name}' wants bytes ${ref.offset}..${end} of '${ref.location}', which has only ${data.byteLength} bytes`,
        file,
      );
    }
    try {
      checkTensorBytes(tensor, end - ref.offset, `initializer '${tensor.name}' (in '${ref.location}')`);
    } catch (e) {
      throw e instanceof DoctorError ? new DoctorError(e.kind, e.message, file) : e;
    }
    tensor.raw = data.subarray(ref.offset, end);
    delete tensor.external;
  }
  return [...files.keys()];
}

function externalTensors(graph: Graph): Tensor[] {
  return [...graph.initializers.values()].filter((t) => t.external !== undefined);
}
