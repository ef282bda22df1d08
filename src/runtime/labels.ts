import { readFileSync } from 'node:fs';
import { DoctorError, errorMessage } from '../core/errors';

/** Class labels for the 'ce' loss from a JSON file holding an array of integers. */
export function readLabelsFile(file: string): number[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DoctorError('bad-input', `cannot read labels (${errorMessage(e)})`, file);
  }
  if (!Array.isArray(parsed) || parsed.some((x) => !Number.isInteger(x))) throw new DoctorError('bad-input', 'labels must be a JSON array of integers', file);
  return parsed as number[];
}
