import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync, realpathSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { DoctorError, fileProblem, type DoctorErrorKind } from '../core/errors';
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
  const bytes = readRegularFile(abs, { kind: 'bad-input', what: 'the model' });
  const model = decodeModel(bytes, abs);
  const externalDataFiles = resolveExternalData(model, folderReader(path.dirname(abs), abs), abs);
  const order = validateGraph(model.graph, abs);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { path: abs, model, sha256, fileBytes: bytes.byteLength, externalDataFiles, order };
}

/** Largest file read whole (Node's limit for one read). */
const MAX_READ_BYTES = 2 ** 31 - 1;

/** How {@link readRegularFile} words its refusals. */
export interface ReadRole {
  /** The kind of the DoctorError it throws. */
  kind: DoctorErrorKind;
  /** What the file is, for messages: 'the model', "external data file 'w.bin'", 'the sample file'. */
  what: string;
  /** The file the DoctorError names (default: the file itself). */
  reportAs?: string;
}

/**
 * The whole content of a regular file. Anything else (a folder, a named pipe, a socket, a device)
 * is refused before a byte is read: the file is opened without blocking and checked on the open
 * descriptor, so a named pipe cannot make us wait forever.
 */
export function readRegularFile(file: string, role: ReadRole): Buffer {
  const fail = (problem: string) => new DoctorError(role.kind, `cannot read ${role.what}: ${problem}`, role.reportAs ?? file);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw fail(fileProblem(e));
  }
  try {
    const st = fstatSync(fd);
    const kind = notRegular(st);
    if (kind) throw fail(`it is ${kind}, not a regular file`);
    if (st.size > MAX_READ_BYTES) throw fail(tooLarge(role, st.size));
    return readFileSync(fd);
  } catch (e) {
    throw e instanceof DoctorError ? e : fail(fileProblem(e));
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses, before any work, a path that cannot be read as a regular file (missing, a folder, a
 * named pipe, a device), with a message naming it; nothing is read.
 */
export function checkReadableFile(file: string, what: string): void {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new DoctorError('bad-input', `cannot read ${what}: ${fileProblem(e)}`, file);
  }
  try {
    const kind = notRegular(fstatSync(fd));
    if (kind) throw new DoctorError('bad-input', `cannot read ${what}: it is ${kind}, not a regular file`, file);
  } finally {
    closeSync(fd);
  }
}

/** 'a folder', 'a named pipe', ... for anything that is not a regular file; undefined for one. */
function notRegular(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a file';
}

function tooLarge(role: ReadRole, size: number): string {
  const gb = (size / 2 ** 30).toFixed(1);
  return role.what === 'the model'
    ? `it is ${gb} GiB, over the 2 GiB that one ONNX file can hold; large models keep their weights in external data files`
    : `it is ${gb} GiB; Gradient Doctor reads files of at most 2 GiB`;
}

/** Reads external data strictly inside `folder`: a symlink that resolves outside it is refused. */
function folderReader(folder: string, modelFile: string) {
  const root = realpathSync(folder);
  return {
    read(location: string): Uint8Array {
      checkExternalLocation(location, location, modelFile);
      const what = `external data file '${location}'`;
      let real: string;
      try {
        real = realpathSync(path.join(folder, location));
      } catch (e) {
        throw new DoctorError('external-data', `cannot read ${what}: ${fileProblem(e)}`, modelFile);
      }
      if (real !== root && !real.startsWith(root + path.sep)) {
        throw new DoctorError('external-data', `${what} resolves to ${real}, outside the model's folder`, modelFile);
      }
      return readRegularFile(real, { kind: 'external-data', what, reportAs: modelFile });
    },
  };
}
