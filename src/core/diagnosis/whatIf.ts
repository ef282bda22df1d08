import type { AnalysisReport, Finding, Remedy } from '../report/types';
import { absentFrom } from './group';

/** One layer before and after a what-if. */
export interface LayerChange {
  name: string;
  gradientInput: [number | null, number | null];
  rmsGain: [number | null, number | null];
  sigmaMax: [number | null, number | null];
}

/** The before/after comparison of a what-if preview. */
export interface WhatIfResult {
  applied: Remedy[];
  layers: LayerChange[];
  endToEnd: { sigmaMax: [number | null, number | null]; rmsGain: [number | null, number | null]; lyapunovExponent: [number | null, number | null] };
  verdict: [string, string];
  resolved: Finding[];
  introduced: Finding[];
  /** Where the patched copy was written, when the user asked for it. */
  written?: string;
  before: AnalysisReport;
  after: AnalysisReport;
}

/**
 * Compares two analyses of a model and its patched copy, layer by layer and finding by finding
 * (a grouped finding member by member: a group partly resolved lists the members resolved).
 */
export function compareAnalyses(before: AnalysisReport, after: AnalysisReport, applied: Remedy[]): WhatIfResult {
  const afterLayers = new Map(after.layers.map((l) => [l.name, l]));
  const id = (f: Finding) => f.id;
  return {
    applied,
    layers: before.layers.map((l) => {
      const a = afterLayers.get(l.name);
      return {
        name: l.name,
        gradientInput: [l.gradient.inputNorm, a?.gradient.inputNorm ?? null],
        rmsGain: [l.jacobian.rmsGain, a?.jacobian.rmsGain ?? null],
        sigmaMax: [l.jacobian.sigmaMax, a?.jacobian.sigmaMax ?? null],
      };
    }),
    endToEnd: {
      sigmaMax: [before.endToEnd.sigmaMax, after.endToEnd.sigmaMax],
      rmsGain: [before.endToEnd.rmsGain, after.endToEnd.rmsGain],
      lyapunovExponent: [before.endToEnd.lyapunovExponent, after.endToEnd.lyapunovExponent],
    },
    verdict: [before.verdict?.status ?? 'unknown', after.verdict?.status ?? 'unknown'],
    resolved: absentFrom(before.findings, id, after.findings, id),
    introduced: absentFrom(after.findings, id, before.findings, id),
    before,
    after,
  };
}

/** The comparison as text for a terminal. */
export function formatWhatIf(w: WhatIfResult, fmt: (x: number | null) => string): string {
  const lines = [`What-if: ${w.applied.length} change${w.applied.length === 1 ? '' : 's'} applied to an in-memory copy (the model file is untouched)`];
  for (const r of w.applied) lines.push(`  ${describeRemedy(r)}`);
  lines.push('', `Verdict    ${w.verdict[0]} → ${w.verdict[1]}`, '');
  const header = ['layer', '‖∂L/∂in‖ before', 'after', 'rms gain before', 'after', 'σmax before', 'after'];
  const rows = w.layers.map((l) => [l.name, fmt(l.gradientInput[0]), fmt(l.gradientInput[1]), fmt(l.rmsGain[0]), fmt(l.rmsGain[1]), fmt(l.sigmaMax[0]), fmt(l.sigmaMax[1])]);
  const widths = header.map((h, i) => Math.min(Math.max(h.length, ...rows.map((r) => r[i].length)), i === 0 ? 40 : 16));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  lines.push(line(header), ...rows.map(line), '');
  const e = w.endToEnd;
  lines.push(`End to end σmax ${fmt(e.sigmaMax[0])} → ${fmt(e.sigmaMax[1])} · rms gain ${fmt(e.rmsGain[0])} → ${fmt(e.rmsGain[1])} · Lyapunov ${fmt(e.lyapunovExponent[0])} → ${fmt(e.lyapunovExponent[1])}`, '');
  lines.push(`Resolved   ${w.resolved.length}`, ...w.resolved.map((f) => `  ✓ [${f.rule}] ${f.message}`));
  lines.push(`Introduced ${w.introduced.length}`, ...w.introduced.map((f) => `  ✗ [${f.rule}] ${f.message}`));
  if (w.written) lines.push('', `Patched copy written to ${w.written}`);
  return lines.join('\n');
}

export function describeRemedy(r: Remedy): string {
  switch (r.kind) {
    case 'rescale': return `scale ${r.parameter} by ${r.factor.toPrecision(3)}`;
    case 'reinit': return r.scheme === 'orthogonal' ? `re-initialise ${r.parameter} orthogonally (gain ${(r.gain ?? 1).toPrecision(3)})` : `re-initialise ${r.parameter} from N(0, ${r.std.toPrecision(3)}^2) (${r.scheme})`;
    case 'swap-activation': return `swap ${r.from} for ${r.to} at ${r.node}`;
    case 'residual-scale': return `scale input ${r.input} of ${r.node} by ${r.factor.toPrecision(3)}`;
  }
}
