import { topFinding } from '../../../src/core/diagnosis/rank';
import type { AnalysisReport, Finding } from '../../../src/core/report/types';

const RANK = { error: 0, warning: 1, info: 2 } as const;

/** The findings in the order the report lists and numbers them: errors, warnings, info, each in the report's order. */
export function listedOrder(r: AnalysisReport): Finding[] {
  return [...r.findings].sort((a, b) => RANK[a.severity] - RANK[b.severity]);
}

/**
 * The finding that matters most, with its number in the findings list (1-based): the one the
 * verdict's headline names, decided by the same function ({@link topFinding}). None when nothing
 * is above info.
 */
export function doThisFirst(r: AnalysisReport): { finding: Finding; number: number } | undefined {
  const finding = topFinding(r.findings);
  return finding ? { finding, number: listedOrder(r).indexOf(finding) + 1 } : undefined;
}
