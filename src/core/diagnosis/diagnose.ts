import type { Model } from '../onnx/types';
import type { AnalysisReport, Finding, Verdict } from '../report/types';
import { firstSentence, groupFindings } from './group';
import { topFinding } from './rank';
import { RULES } from './registry';
import { foldedBatchNormClause } from './rules/batchNorm';
import { graphFacts, type TrainingFacts } from './rule';
import { resolveThresholds, type Thresholds } from './thresholds';

/** Options of {@link diagnose}: threshold overrides by name and what the user trains with. */
export interface DiagnosisOptions {
  thresholds?: Partial<Thresholds>;
  training?: TrainingFacts;
}

const RANK = { error: 0, warning: 1, info: 2 } as const;

/**
 * Runs every rule over an analysis report and its model: the findings, most important first, a
 * rule's findings of one severity on several layers grouped into one, and the verdict. Pure: the
 * same report and options give the same findings.
 */
export function diagnose(report: AnalysisReport, model: Model, options: DiagnosisOptions = {}): { findings: Finding[]; verdict: Verdict } {
  const ctx = { report, model, thresholds: resolveThresholds(options.thresholds), training: options.training ?? {}, facts: graphFacts(model) };
  const ranked = RULES.flatMap((rule, order) => rule.check(ctx).map((finding) => ({ finding, order })));
  ranked.sort((a, b) => RANK[a.finding.severity] - RANK[b.finding.severity] || a.order - b.order);
  const findings = groupFindings(ranked.map((r) => r.finding), RULES, ctx);
  const verdict = verdictOf(findings);
  // the verdict itself says when the exporter folded BatchNorm (README "BatchNorm at initialisation"), still one sentence
  const folded = foldedBatchNormClause(report.run);
  if (folded) verdict.headline = `${verdict.headline.replace(/[.\s]+$/, '')}; ${folded}.`;
  return { findings, verdict };
}

/** healthy (nothing above info), at risk (warnings), pathological (errors); the headline is one sentence: the status and the first of the finding that matters most ({@link topFinding}). */
export function verdictOf(findings: Finding[]): Verdict {
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  const status = counts.error ? 'pathological' : counts.warning ? 'at-risk' : 'healthy';
  const top = topFinding(findings);
  const incomplete = findings.find((f) => f.rule === 'incomplete-analysis');
  const label = { healthy: 'Healthy', 'at-risk': 'At risk', pathological: 'Pathological' }[status];
  return {
    status,
    headline: top ? `${label}: ${firstSentence(top.message)}`
      : incomplete ? `${label} as far as measured: ${firstSentence(incomplete.message)}`
      : `${label}: no gradient pathology found at these samples.`,
    top: top?.id,
    counts,
  };
}

/** True when a finding at `level` or above exists (for --fail-on). */
export function failsAt(findings: Finding[], level: 'error' | 'warning'): boolean {
  return findings.some((f) => RANK[f.severity] <= RANK[level]);
}
