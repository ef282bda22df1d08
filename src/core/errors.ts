/** What kind of user-facing problem a {@link DoctorError} reports; the CLI maps every kind to exit code 2. */
export type DoctorErrorKind =
  | 'empty-file'
  | 'not-onnx'
  | 'corrupt-model'
  | 'invalid-graph'
  | 'external-data'
  | 'unsupported'
  | 'bad-input'
  | 'runtime'
  | 'time-limit'
  | 'cancelled';

/**
 * The one error class for problems with what the user gave us (a model, a sample file, an option).
 * Its message says what is wrong and where; `file` names the file it concerns, when there is one.
 * Anything else that is thrown is a bug in Gradient Doctor, and is reported as one.
 */
export class DoctorError extends Error {
  override readonly name = 'DoctorError';

  constructor(
    readonly kind: DoctorErrorKind,
    message: string,
    readonly file?: string,
  ) {
    super(file ? `${file}: ${message}` : message);
  }
}

/** True when `e` is a {@link DoctorError}, also after it crossed a process boundary as a plain object. */
export function isDoctorError(e: unknown): e is DoctorError {
  return e instanceof DoctorError || (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'DoctorError');
}

/** The message of any thrown value. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * `e` naming `file` when it is a {@link DoctorError} that does not yet (errors from deeper layers
 * often do not know it); anything else is returned unchanged: it is a bug, not bad input.
 */
export function withFile(e: unknown, file: string): unknown {
  if (isDoctorError(e)) return e.file ? e : new DoctorError(e.kind, e.message, file);
  return e;
}

/** Words for the file-system error codes a user can cause, without Node's syscall text. */
const FS_PROBLEMS: Record<string, string> = {
  ENOENT: 'it does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a folder, not a file',
  ENOTDIR: 'a part of its path is not a folder',
  ELOOP: 'its path has a symbolic link loop',
  ENAMETOOLONG: 'its path is too long',
  EEXIST: 'a file of that name already exists',
  ENOSPC: 'the disk is full',
  EROFS: 'the file system is read-only',
  EMFILE: 'too many files are open',
  EIO: 'an input/output error occurred while reading it',
  ERR_FS_FILE_TOO_LARGE: 'it is larger than 2 GiB, the most one file can be read at once here',
};

/** What went wrong with a file operation, in words ("it does not exist"), for a {@link DoctorError}. */
export function fileProblem(e: unknown): string {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && FS_PROBLEMS[code]) return FS_PROBLEMS[code];
  return typeof code === 'string' ? `error ${code}` : errorMessage(e);
}
