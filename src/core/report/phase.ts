import type { AnalysisReport } from './types';

/** Layers probed in full in a report made while the analysis refines (the others hold the first look or nothing yet). */
export function layersDone(report: AnalysisReport): number {
  return report.layers.filter((l) => l.jacobian.method !== 'pending' && !l.jacobian.note?.startsWith('first answer')).length;
}

/**
 * One sentence on how complete a report is, for a report made while the analysis ran
 * (`run.phase`): still refining (`running`), or what a cancelled analysis had done. Undefined for
 * a final report.
 */
export function phaseSummary(report: AnalysisReport, running: boolean): string | undefined {
  const phase = report.run.phase;
  if (!phase) return undefined;
  const first = report.run.firstAnswerMs !== undefined ? ` after ${(report.run.firstAnswerMs / 1000).toFixed(1)} s` : '';
  const done = `${layersDone(report)} of ${report.layers.length} layers probed in full`;
  const rest = 'sigma_min, the condition number, the end-to-end Jacobian and the curvature come with the full probes';
  if (running) {
    return phase === 'first-answer'
      ? `First answer${first}: the gradient flow and a first look at every layer (sigma_max and the rms gain); refining: ${rest}.`
      : `Refining: ${done}; the figures update as they arrive.`;
  }
  return `Partial: the analysis was stopped with ${done} (first answer${first}); figures not yet computed say so. Re-analyse for the rest.`;
}
