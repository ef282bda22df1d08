import type { Finding } from '../report/types';

const RANK = { error: 0, warning: 1, info: 2 } as const;

/**
 * How far a finding's figure is past its threshold, in decades (|log10(measured / threshold)|), or,
 * when they differ in sign or one is 0, in decades of their relative difference; null when the
 * finding has no measured figure and threshold.
 */
export function pastThreshold(f: Pick<Finding, 'measured' | 'threshold'>): number | null {
  const { measured: m, threshold: t } = f;
  if (m === undefined || t === undefined || !Number.isFinite(m) || !Number.isFinite(t)) return null;
  if (m > 0 && t > 0) return Math.abs(Math.log10(m / t));
  if (m < 0 && t < 0) return Math.abs(Math.log10(m / t));
  return t !== 0 ? Math.log10(1 + Math.abs(m - t) / Math.abs(t)) : null;
}

/**
 * The finding that matters most, the one the verdict's headline names (`verdict.top`) and the
 * report's "Do this first" box shows: the most severe, and of those the first in the report's
 * order, which is the rules' order, cause before consequence (the registry: gradient flow and
 * explosion before a layer's conditioning). Not the furthest past its threshold: decades do not
 * compare across quantities (a condition number spans decades where a gain spans a factor; the
 * over-scaled tanh MLP's conditioning is 1.9 decades past its threshold, its explosion 0.5, and
 * the explosion is what to fix). None when nothing is above info.
 */
export function topFinding(findings: readonly Finding[]): Finding | undefined {
  let top: Finding | undefined;
  for (const f of findings) if (f.severity !== 'info' && (!top || RANK[f.severity] < RANK[top.severity])) top = f;
  return top;
}
