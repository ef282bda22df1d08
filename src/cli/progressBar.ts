import { SingleBar } from 'cli-progress';
import type { Progress } from '../core/progress';

/** A progress bar on stderr when it is a terminal, and silence otherwise (CI logs, pipes). */
export function createProgressReporter(enabled: boolean): { update: (p: Progress) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({ stream: process.stderr, format: '{bar} {percentage}% | {message}', hideCursor: true, clearOnComplete: true }, undefined);
  let started = false;
  return {
    update(p) {
      const value = Math.round((p.fraction ?? 0) * 100);
      if (!started) {
        bar.start(100, value, { message: p.message });
        started = true;
      } else bar.update(value, { message: p.message });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
