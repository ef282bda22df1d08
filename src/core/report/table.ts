import { memberLabels } from '../diagnosis/group';
import { curvatureFigure, fmt, formatFigure, jacobianFigure, rankText } from './figures';
import { batchNormNote } from './batchNormText';
import { phaseSummary } from './phase';
import type { AnalysisReport, Finding } from './types';

export { fmt } from './figures';


/** The report as a readable table for a terminal. */
export function formatReportTable(r: AnalysisReport): string {
  const lines: string[] = [];
  const run = r.run;
  if (r.verdict) lines.push(r.verdict.headline, '');
  const partial = phaseSummary(r, false);
  if (partial) lines.push(partial, '');
  lines.push(`Model      ${r.model.path}`);
  lines.push(`Run        ${run.executionProvider.toUpperCase()} (onnxruntime-node ${run.ortVersion})${run.executionProviderNote ? `; CUDA not used: ${run.executionProviderNote}` : ''}`);
  lines.push(`Samples    ${run.samples} ${run.sampleSource}, seed ${run.seed} · loss ${run.loss}${run.lossReduction ? ` (${run.lossReduction})` : ''}${run.lossValue !== null ? ` = ${fmt(run.lossValue)}` : ''} · granularity ${run.granularity} · ${(run.durationMs / 1000).toFixed(2)} s, ${run.derivativeRuns} derivative runs`);
  if (run.lossNote) lines.push(`Loss       ${run.lossNote}`);
  const bn = batchNormNote(run);
  if (bn) lines.push(`BatchNorm  ${bn}`);
  for (const note of new Set(run.sampleInputs.flatMap((s) => (s.note ? [s.note] : [])))) lines.push(`Sizes      ${note}`);
  for (const r of run.recurrent?.filter((x) => !x.unrolled) ?? []) lines.push(`Recurrent  ${r.opType} ${r.node}: ${r.how}`);
  if (run.controlFlow) lines.push(`Control    ${run.controlFlow.map((c) => `${c.opType} ${c.node}: ${c.how}`).join('; ')} (at the first sample; the figures follow it)`);
  lines.push('');
  const header = ['#', 'layer', 'ops', 'σmax', 'σmin', 'rms gain', 'κ', 'method', '‖∂L/∂in‖', '‖∂L/∂out‖', 'Σ log gain'];
  const rows = r.layers.map((l) => [
    String(l.index + 1),
    l.name,
    l.opTypes.join('+'),
    formatFigure(jacobianFigure(l.jacobian, 'sigmaMax')),
    formatFigure(jacobianFigure(l.jacobian, 'sigmaMin')),
    formatFigure(jacobianFigure(l.jacobian, 'rmsGain')),
    formatFigure(jacobianFigure(l.jacobian, 'conditionNumber')),
    l.jacobian.method,
    fmt(l.gradient.inputNorm),
    fmt(l.gradient.outputNorm),
    fmt(l.lyapunovRunningSum),
  ]);
  const widths = header.map((h, i) => Math.min(Math.max(h.length, ...rows.map((row) => row[i].length)), i === 1 ? 40 : 24));
  const line = (cells: string[]) => cells.map((c, i) => (c.length > widths[i] ? '…' + c.slice(c.length - widths[i] + 1) : c).padEnd(widths[i])).join('  ').trimEnd();
  lines.push(line(header));
  for (const row of rows) lines.push(line(row));
  for (const l of r.layers) if (l.jacobian.reason) lines.push(`  ! ${l.name}: ${l.jacobian.reason}`);
  if (r.layers.some((l) => l.jacobian.kinds && Object.values(l.jacobian.kinds).some((k) => k !== 'exact' && k !== 'estimate'))) {
    lines.push('  ≥ / ≤: a bound, not a measurement (Lanczos: σmax is at least its Ritz value, σmin at most, κ at least); ∞: a singular Jacobian');
  }
  lines.push('');
  const e = r.endToEnd;
  const rank = rankText(e);
  lines.push(`End to end σmax ${formatFigure(jacobianFigure(e, 'sigmaMax'), true)} · σmin ${formatFigure(jacobianFigure(e, 'sigmaMin'), true)} · rms gain ${formatFigure(jacobianFigure(e, 'rmsGain'), true)} · κ ${formatFigure(jacobianFigure(e, 'conditionNumber'))} (${e.method})${rank ? ` · ${rank}` : ''}${e.reason ? ` — ${e.reason}` : ''}`);
  lines.push(`Lyapunov exponent (mean log gain per layer) ${fmt(e.lyapunovExponent)}`);
  const c = r.curvature;
  lines.push(
    c.hessianMaxEigenvalue !== null
      ? `Curvature  λmax(H) ${formatFigure(curvatureFigure(c, 'hessianMaxEigenvalue'), true)} → largest stable learning rate ${formatFigure(curvatureFigure(c, 'maxStableLearningRate'))} (SGD), ${formatFigure(curvatureFigure(c, 'maxStableLearningRateMomentum'))} (momentum ${c.momentum})`
      : `Curvature  not computed: ${c.reason}`,
  );
  lines.push('');
  lines.push('Parameters');
  const ph = ['name', 'shape', '‖w‖', '‖∂L/∂w‖', 'ratio', 'σmax(w)', 'var/He', 'kurtosis'];
  const prow = r.parameters.map((p) => [p.name, `[${p.shape.join('x')}]`, fmt(p.norm), fmt(p.gradNorm), fmt(p.gradToWeightRatio), fmt(p.spectralNorm), fmt(p.varianceRatio?.he), fmt(p.kurtosis)]);
  const pw = ph.map((h, i) => Math.min(Math.max(h.length, ...prow.map((row) => row[i].length)), i === 0 ? 40 : 16));
  const pline = (cells: string[]) => cells.map((cell, i) => (cell.length > pw[i] ? '…' + cell.slice(cell.length - pw[i] + 1) : cell).padEnd(pw[i])).join('  ').trimEnd();
  lines.push(pline(ph));
  for (const row of prow) lines.push(pline(row));
  if (r.nonFinite.length) {
    lines.push('');
    for (const n of r.nonFinite) lines.push(`NaN/Inf in ${n.where} '${n.tensor}'${n.node ? ` (first produced by node '${n.node}')` : ''}`);
  }
  lines.push('', ...formatFindings(r));
  return lines.join('\n');
}

/** The table shows this many findings of one rule; the JSON has them all. */
const FINDINGS_PER_RULE = 3;

const MARK = { error: '✖ error  ', warning: '▲ warning', info: '● info   ' } as const;

/** The findings, most important first: message, why, fix, and a grouped finding's layers with their figures. */
export function formatFindings(r: AnalysisReport): string[] {
  if (r.findings.length === 0) return ['Findings   none'];
  const c = r.verdict?.counts;
  const lines = [`Findings   ${c ? `${c.error} error${c.error === 1 ? '' : 's'}, ${c.warning} warning${c.warning === 1 ? '' : 's'}, ${c.info} info` : r.findings.length}`];
  const shown = new Map<string, number>();
  for (const f of r.findings) {
    const n = (shown.get(f.rule) ?? 0) + 1;
    shown.set(f.rule, n);
    if (n > FINDINGS_PER_RULE) {
      const total = r.findings.filter((g) => g.rule === f.rule).length;
      if (n === FINDINGS_PER_RULE + 1) lines.push(`             … and ${total - FINDINGS_PER_RULE} more [${f.rule}] (all of them in --format json)`);
      continue;
    }
    lines.push(`${MARK[f.severity]}  ${f.message}`);
    if (f.measured !== undefined && f.threshold !== undefined) lines.push(`             measured ${formatFigure({ value: f.measured, kind: f.measuredKind ?? 'exact' })} (${f.measuredName}) against ${f.thresholdName ?? 'threshold'} ${fmt(f.threshold)}  [${f.rule}]`);
    else lines.push(`             [${f.rule}]`);
    lines.push(`             why: ${f.why}`);
    if (f.fix) lines.push(`             fix: ${f.fix}`);
    if (f.members) lines.push(...memberLines(f));
  }
  return lines;
}

const INDENT = ' '.repeat(13);

/** A grouped finding's members, each with its figure, wrapped: "layers: /a 0.139, /b 0.141, …". */
function memberLines(f: Finding): string[] {
  const { noun, labels } = memberLabels(f);
  const items = f.members!.map((m, i) => `${labels[i]}${m.measured !== undefined ? ` ${formatFigure({ value: m.measured, kind: m.measuredKind ?? 'exact' })}` : ''}`);
  const lines = [`${INDENT}${noun}:`];
  for (const item of items) {
    const last = lines[lines.length - 1];
    if (last.length + item.length + 3 > 120 && last.trim().length > noun.length + 1) lines.push(`${INDENT}  ${item}`);
    else lines[lines.length - 1] = `${last}${last.endsWith(':') ? ' ' : ', '}${item}`;
  }
  return lines.map((l, i) => (i < lines.length - 1 ? `${l},` : l));
}
