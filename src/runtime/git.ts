import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DoctorError } from '../core/errors';

/**
 * The file at a git revision, written to a temporary file (read-only use: the work tree is not
 * touched). `git show REF:./relative/path` from the file's own folder, so any repository layout works.
 */
export function fileAtRevision(file: string, ref: string): string {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const r = spawnSync('git', ['-C', dir, 'show', `${ref}:./${path.basename(abs)}`], { maxBuffer: 2 ** 32, encoding: 'buffer' });
  if (r.error) throw new DoctorError('bad-input', `cannot run git (${r.error.message})`, abs);
  if (r.status !== 0) throw new DoctorError('bad-input', `git cannot show it at ${ref}: ${r.stderr.toString().trim()}`, abs);
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'gd-git-')), `${path.basename(abs, '.onnx')}@${ref.replace(/[^\w.-]/g, '_')}.onnx`);
  writeFileSync(out, r.stdout);
  return out;
}
