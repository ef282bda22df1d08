import type { AnalysisReport } from './types';

/** A figure with 3 significant digits, or '—' when it is null. */
export function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e4 || a < 1e-3 ? x.toExponential(2) : x.toPrecision(3);
}

/** The report as a readable table for a terminal. */
export function formatReportTable(r: AnalysisReport): string {
  const lines: string[] = [];
  const run = r.run;
  if (r.verdict) lines.push(r.verdict.headline, '');
  lines.push(`Model      ${r.model.path}`);
  lines.push(`Run        ${run.executionProvider.toUpperCase()} (onnxruntime-node ${run.ortVersion})${run.executionProviderNote ? `; CUDA not used: ${run.executionProviderNote}` : ''}`);
  lines.push(`Samples    ${run.samples} ${run.sampleSource}, seed ${run.seed} · loss ${run.loss}${run.lossValue !== null ? ` = ${fmt(run.lossValue)}` : ''} · granularity ${run.granularity} · ${(run.durationMs / 1000).toFixed(2)} s, ${run.derivativeRuns} derivative runs`);
  lines.push('');
  const header = ['#', 'layer', 'ops', 'σmax', 'σmin', 'rms gain', 'κ', 'method', '‖∂L/∂in‖', '‖∂L/∂out‖', 'Σ log gain'];
  const rows = r.layers.map((l) => [
    String(l.index + 1),
    l.name,
    l.opTypes.join('+'),
    fmt(l.jacobian.sigmaMax),
    fmt(l.jacobian.sigmaMin),
    fmt(l.jacobian.rmsGain),
    fmt(l.jacobian.conditionNumber),
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
  lines.push('');
  const e = r.endToEnd;
  lines.push(`End to end σmax ${fmt(e.sigmaMax)} · σmin ${fmt(e.sigmaMin)} · rms gain ${fmt(e.rmsGain)} (${e.method})${e.reason ? ` — ${e.reason}` : ''}`);
  lines.push(`Lyapunov exponent (mean log gain per layer) ${fmt(e.lyapunovExponent)}`);
  const c = r.curvature;
  lines.push(
    c.hessianMaxEigenvalue !== null
      ? `Curvature  λmax(H) ${fmt(c.hessianMaxEigenvalue)} ± ${fmt(c.error)} → largest stable learning rate ${fmt(c.maxStableLearningRate)} (SGD), ${fmt(c.maxStableLearningRateMomentum)} (momentum ${c.momentum})`
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

/** The findings, most important first: message, why, fix and what the fix should change. */
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
    if (f.measured !== undefined && f.threshold !== undefined) lines.push(`             measured ${fmt(f.measured)} (${f.measuredName}) against ${f.thresholdName ?? 'threshold'} ${fmt(f.threshold)}  [${f.rule}]`);
    else lines.push(`             [${f.rule}]`);
    lines.push(`             why: ${f.why}`);
    if (f.fix) lines.push(`             fix: ${f.fix}`);
  }
  return lines;
}
