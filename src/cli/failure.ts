import { errorMessage, isDoctorError } from '../core/errors';
import { ExitCode } from './options';

/** Exit code of an analysis stopped by Ctrl-C after its first answer: the figures so far were written (128 + SIGINT, as shells do). */
export const INTERRUPTED_EXIT = 130;

/** commander's codes for a help or version request, which end the program normally. */
const NORMAL_EXITS = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

/**
 * Prints what went wrong and returns the exit code: a usage error (commander has already printed
 * its one line and a hint) and a {@link DoctorError} (bad input) exit 2; anything else is a bug in
 * Gradient Doctor, said so, with its stack, and exits 3.
 */
export function reportFailure(e: unknown): number {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NORMAL_EXITS.has(code)) return ExitCode.ok;
  if (typeof code === 'string' && code.startsWith('commander.')) return ExitCode.badInput;
  if (isDoctorError(e)) {
    process.stderr.write(`gradient-doctor: error: ${e.message}\n`);
    return ExitCode.badInput;
  }
  process.stderr.write(
    `gradient-doctor: internal error: ${errorMessage(e)}\n`
    + 'This is a bug in Gradient Doctor, not a problem with your input. Please report it on the project\'s issue tracker '
    + 'with the command line and the lines below (and the model, if you can share it).\n'
    + `${e instanceof Error && e.stack ? e.stack : String(e)}\n`,
  );
  return ExitCode.internal;
}
