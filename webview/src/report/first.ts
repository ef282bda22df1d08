import type { AnalysisReport, Finding } from '../../../src/core/report/types';

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

/** The findings in the order the report lists and numbers them: errors, warnings, info, each in the report's order. */
export function listedOrder(r: AnalysisReport): Finding[] {
  return [...r.findings].sort((a, b) => RANK[a.severity] - RANK[b.severity]);
}

/**
 * The one fix that matters most: of the errors and warnings with a fix, the most severe, and of
 * those the furthest past its threshold; with its number in the findings list (1-based). None
 * when nothing above info has a fix.
 */
export function doThisFirst(r: AnalysisReport): { finding: Finding; number: number } | undefined {
  const candidates = r.findings.filter((f) => f.severity !== 'info' && f.fix);
  if (candidates.length === 0) return undefined;
  const past = (f: Finding) => pastThreshold(f) ?? 0;
  const finding = [...candidates].sort((a, b) => RANK[a.severity] - RANK[b.severity] || past(b) - past(a))[0];
  return { finding, number: listedOrder(r).indexOf(finding) + 1 };
}
