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
  | 'cancelled';

/**
 * The one error class for problems with what the user gave us (a model, a sample file, an option).
 * Its message says what is wrong and where; `file` names the file it concerns, when there is one.
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

/** `e` as a {@link DoctorError} that names `file` (errors from deeper layers often do not know it). */
export function withFile(e: unknown, file: string): DoctorError {
  if (isDoctorError(e)) return e.file ? e : new DoctorError(e.kind, e.message, file);
  return new DoctorError('runtime', errorMessage(e), file);
}
