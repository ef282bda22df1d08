import { realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { DoctorError, fileProblem } from '../core/errors';
import { checkReadableFile } from '../runtime/modelFile';

/** A file a command reads, and what it is for messages ('the model', 'the sample file'). */
export interface ReadFile {
  file: string;
  what: string;
}

/**
 * The checks a command makes before any work, so that a mistake in its arguments costs no
 * analysis: every file it reads exists and is a regular file (not a folder or a named pipe), and
 * `--out` can be written without overwriting a model or an input. Throws a 'bad-input' DoctorError.
 */
export function checkBeforeWork(reads: ReadFile[], out?: string, sources?: string): void {
  for (const r of reads) checkReadableFile(r.file, r.what);
  if (out !== undefined) checkOut(out, reads.map((r) => r.file));
  if (sources !== undefined && !statOrUndefined(sources)?.isDirectory()) {
    throw new DoctorError('bad-input', '--sources must name a folder of Python files, and this is not one', sources);
  }
}

/** Refuses an --out that names a model or a file the command reads, a folder, or a file in a missing folder. */
function checkOut(out: string, reads: string[]): void {
  const same = (a: string, b: string) => {
    try {
      return realpathSync(a) === realpathSync(b);
    } catch {
      return path.resolve(a) === path.resolve(b);
    }
  };
  if (/\.onnx$/i.test(out) || reads.some((r) => same(out, r))) throw new DoctorError('bad-input', '--out names a model or a file this command reads; refusing to overwrite it', out);
  // an existing named pipe or device (/dev/stdout, a shell's >(...)) is a legitimate target
  if (statOrUndefined(out)?.isDirectory()) throw new DoctorError('bad-input', '--out names a folder; give a file name inside it', out);
  const folder = path.dirname(path.resolve(out));
  let parent;
  try {
    parent = statSync(folder);
  } catch (e) {
    throw new DoctorError('bad-input', `--out cannot be written: its folder ${folder} cannot be used (${fileProblem(e)})`, out);
  }
  if (!parent.isDirectory()) throw new DoctorError('bad-input', `--out cannot be written: ${folder} is not a folder`, out);
}

function statOrUndefined(file: string) {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}
