import type { AnalysisReport, Finding } from '../../src/core/report/types';
import { fmt } from '../../src/core/report/table';
import { el, table } from './dom';

/** What the report view can ask of its host (absent in a standalone HTML file). */
export interface ReportActions {
  analyze(): void;
  openOutline(): void;
  previewFix(findingId: string): void;
}

const LABEL = { healthy: 'Healthy', 'at-risk': 'At risk', pathological: 'Pathological' } as const;

/**
 * Renders an analysis report into `root`: the verdict and the finding that matters most, run facts,
 * the findings with why and fix, and the per-layer figures. (The heatmap and charts are the Report
 * issue's; this is the plain view that the custom editor shows until they land.)
 */
export function renderReport(root: HTMLElement, r: AnalysisReport, stale: boolean, actions?: ReportActions): void {
  root.replaceChildren();
  root.append(el('h1', r.model.path.split(/[\\/]/).pop() ?? r.model.path));
  if (stale) root.append(el('p', 'The model changed on disk since this analysis: re-analyse it.', 'stale'));
  const v = r.verdict;
  if (v) {
    const banner = el('section', undefined, `verdict ${v.status}`);
    banner.setAttribute('role', 'status');
    banner.append(el('strong', LABEL[v.status]), el('span', ` · ${v.counts.error} errors, ${v.counts.warning} warnings, ${v.counts.info} info`));
    banner.append(el('p', v.headline.replace(/^[^:]+: /, '')));
    root.append(banner);
  }
  if (actions) {
    const bar = el('div', undefined, 'actions');
    const analyze = el('button', 'Re-analyze');
    analyze.addEventListener('click', () => actions.analyze());
    const outline = el('button', 'Open model as text');
    outline.addEventListener('click', () => actions.openOutline());
    bar.append(analyze, outline);
    root.append(bar);
  }
  const run = r.run;
  const facts = el('dl', undefined, 'facts');
  const fact = (k: string, val: string) => facts.append(el('dt', k), el('dd', val));
  fact('Execution provider', `${run.executionProvider.toUpperCase()}${run.executionProviderNote ? ` (CUDA not used: ${run.executionProviderNote})` : ''}`);
  fact('Samples', `${run.samples} ${run.sampleSource}, seed ${run.seed}`);
  fact('Loss', `${run.loss}${run.lossValue !== null ? ` = ${fmt(run.lossValue)}` : ''}`);
  fact('Time', `${(run.durationMs / 1000).toFixed(1)} s, ${run.derivativeRuns} derivative runs (onnxruntime ${run.ortVersion})`);
  fact('Tool', `gradient-doctor ${r.tool.version}`);
  root.append(facts);
  root.append(findingsList(r.findings, actions));
  root.append(table(['#', 'layer', 'ops', 'σmax', 'σmin', 'rms gain', 'κ', 'method', '‖∂L/∂in‖', '‖∂L/∂out‖'], r.layers.map((l) => [
    String(l.index + 1), l.name, l.opTypes.join(' + '), fmt(l.jacobian.sigmaMax), fmt(l.jacobian.sigmaMin), fmt(l.jacobian.rmsGain),
    fmt(l.jacobian.conditionNumber), l.jacobian.method, fmt(l.gradient.inputNorm), fmt(l.gradient.outputNorm),
  ]), 'Layers'));
}

function findingsList(findings: Finding[], actions?: ReportActions): HTMLElement {
  const section = el('section', undefined, 'findings');
  section.append(el('h2', `Findings (${findings.length})`));
  if (findings.length === 0) section.append(el('p', 'No findings at these samples.'));
  const list = el('ol');
  for (const f of findings) {
    const item = el('li', undefined, `finding ${f.severity}`);
    item.dataset.rule = f.rule;
    item.append(el('span', f.severity, 'severity'), el('span', ` ${f.rule}`, 'rule'), el('p', f.message));
    if (f.measured !== undefined && f.threshold !== undefined) item.append(el('p', `measured ${fmt(f.measured)} (${f.measuredName ?? ''}) against ${f.thresholdName ?? 'threshold'} ${fmt(f.threshold)}`, 'measure'));
    item.append(el('p', `Why: ${f.why}`, 'why'));
    if (f.fix) item.append(el('p', `Fix: ${f.fix}`, 'fix'));
    if (actions && f.remedies?.length) {
      const b = el('button', 'Preview fix (what-if)');
      b.addEventListener('click', () => actions.previewFix(f.id));
      item.append(b);
    }
    list.append(item);
  }
  section.append(list);
  return section;
}

/** A status line (analysing, idle or failed) with an Analyze button when the host can run one. */
export function renderStatus(root: HTMLElement, message: string, kind: 'busy' | 'idle' | 'error', actions?: ReportActions): void {
  root.replaceChildren();
  const p = el('p', message, `status ${kind}`);
  p.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  root.append(p);
  if (actions && kind !== 'busy') {
    const b = el('button', kind === 'error' ? 'Try again' : 'Analyze');
    b.addEventListener('click', () => actions.analyze());
    root.append(b);
  }
}
