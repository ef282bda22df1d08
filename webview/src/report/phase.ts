import type { AnalysisReport } from '../../../src/core/report/types';
import { phaseSummary } from '../../../src/core/report/phase';
import { el } from '../dom';

/** The banner of a report made while the analysis runs (refining) or of a cancelled one (partial); undefined for a final report. */
export function phaseBanner(report: AnalysisReport, refining: boolean): HTMLElement | undefined {
  const text = phaseSummary(report, refining);
  if (!text) return undefined;
  const p = el('p', text, refining ? 'phase refining' : 'phase partial');
  p.setAttribute('role', 'status');
  p.dataset.phase = report.run.phase;
  return p;
}
