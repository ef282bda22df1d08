import { InvalidArgumentError } from 'commander';
import type { EngineOptions } from '../protocol/engine';

/** Exit codes of the CLI (documented in the README). */
export const ExitCode = {
  ok: 0,
  /** Findings at or above --fail-on were reported. */
  findings: 1,
  /** Bad input (unreadable or malformed model, bad sample file) or bad usage. */
  badInput: 2,
  /** An internal error: a bug in Gradient Doctor. */
  internal: 3,
} as const;

/** Options common to every command that runs a model. */
export interface RunFlags {
  ep: 'auto' | 'cuda' | 'cpu';
  seed: number;
  samples: number;
  inputs?: string[];
  dim?: Record<string, number>;
  distribution: 'normal' | 'uniform';
  /** Seconds one onnxruntime call may take; 0 for no limit. */
  runTimeout: number;
}

/** commander parser for a non-negative integer. */
export function parseInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`'${value}' is not a non-negative integer.`);
  return n;
}

/** commander parser for a non-negative number (seconds). */
export function parseNonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`'${value}' is not a non-negative number.`);
  return n;
}

/** commander parser for a positive integer. */
export function parsePositive(value: string): number {
  const n = parseInteger(value);
  if (n < 1) throw new InvalidArgumentError(`'${value}' must be at least 1.`);
  return n;
}

/**
 * commander parser for repeated `--dim NAME=SIZE` (a symbolic dimension by name) and
 * `--dim INPUT:AXIS=SIZE` (one axis of one input, which also reaches a dimension with no name).
 */
export function parseDim(value: string, previous: Record<string, number> | undefined): Record<string, number> {
  const m = /^([^=]+)=(\d+)$/.exec(value.trim());
  if (!m || Number(m[2]) < 1) throw new InvalidArgumentError(`'${value}' is not NAME=SIZE or INPUT:AXIS=SIZE with SIZE at least 1 (e.g. sequence=128, x:1=512).`);
  return { ...previous, [m[1].trim()]: Number(m[2]) };
}

/** Engine options from the flags. */
export function engineOptions(flags: RunFlags): EngineOptions {
  return {
    executionProvider: flags.ep,
    samples: { count: flags.samples, seed: flags.seed, distribution: flags.distribution, dimensions: flags.dim ?? {}, files: flags.inputs },
    runTimeoutSeconds: flags.runTimeout,
  };
}
