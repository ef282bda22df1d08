import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { DoctorError, errorMessage } from '../core/errors';
import { decodeModel } from '../core/onnx/decode';
import { checkExternalLocation, resolveExternalData } from '../core/onnx/external';
import type { Model } from '../core/onnx/types';
import { validateGraph } from '../core/onnx/validate';

/** A model read from disk, decoded, its external data resolved and its graph validated. */
export interface LoadedModel {
  /** Absolute path of the .onnx file. */
  path: string;
  model: Model;
  /** sha256 of the .onnx file's bytes (hex). */
  sha256: string;
  fileBytes: number;
  /** External data files, relative to the model's folder. */
  externalDataFiles: string[];
  /** Node indices in topological order. */
  order: number[];
}

/**
 * Reads and checks a model file. Opens files for reading only: nothing is ever written beside the
 * user's model. Every problem becomes a {@link DoctorError} naming the file.
 */
export function loadModelFile(file: string): LoadedModel {
  const abs = path.resolve(file);
  let bytes: Buffer;
  try {
    const st = statSync(abs);
    if (st.isDirectory()) throw new DoctorError('bad-input', 'is a folder, not an .onnx file', abs);
    bytes = readFileSync(abs);
  } catch (e) {
    if (e instanceof DoctorError) throw e;
    throw new DoctorError('bad-input', `cannot read the file (${errorMessage(e)})`, abs);
  }
  const model = decodeModel(bytes, abs);
  const externalDataFiles = resolveExternalData(model, folderReader(path.dirname(abs), abs), abs);
  const order = validateGraph(model.graph, abs);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { path: abs, model, sha256, fileBytes: bytes.byteLength, externalDataFiles, order };
}

/** Reads external data strictly inside `folder`: a symlink that resolves outside it is refused. */
function folderReader(folder: string, modelFile: string) {
  const root = realpathSync(folder);
  return {
    read(location: string): Uint8Array {
      checkExternalLocation(location, location, modelFile);
      const target = path.join(folder, location);
      let real: string;
      try {
        real = realpathSync(target);
      } catch (e) {
        throw new DoctorError('external-data', `external data file '${location}' cannot be opened (${errorMessage(e)})`, modelFile);
      }
      if (real !== root && !real.startsWith(root + path.sep)) {
        throw new DoctorError('external-data', `external data file '${location}' resolves to ${real}, outside the model's folder`, modelFile);
      }
      return readFileSync(real);
    },
  };
}
