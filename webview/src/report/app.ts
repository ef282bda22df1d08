import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import { firstSentence, memberLabels } from '../../../src/core/diagnosis/group';
import type { WhatIfResult } from '../../../src/core/diagnosis/whatIf';
import { curvatureFigure, fmt, formatFigure, jacobianFigure, kindText, rankText, type JacobianFigureName } from '../../../src/core/report/figures';
import { batchNormNote } from '../../../src/core/report/batchNormText';
import type { AnalysisReport, Finding } from '../../../src/core/report/types';
import { button, el, table } from '../dom';
import { phaseBanner } from './phase';
import { FlowChart, lossName, LyapunovChart, SpectrumChart } from './charts';
import { pastThreshold } from '../../../src/core/diagnosis/rank';
import { doThisFirst } from './first';
import { cellText, findingsOf, flowSeries, heatmapCells, layerIndexOf, scalePosition, shownMetrics, type Cell, type Metric } from './metrics';
import { cellColor, inkFor, isDark } from './palette';

/** What the report can ask of its host (absent in a standalone HTML file). */
export interface ReportActions {
  analyze(): void;
  openOutline(): void;
  previewFix(findingId: string): void;
  revealNode(node: string): void;
  /** Export the report (the host asks for the format: HTML, Markdown, SARIF, JSON, Netron). */
  export(): void;
}

/** The view state kept across hide and show (VS Code's getState/setState). */
export interface ViewState {
  selected: number;
  view: 'metrics' | 'samples';
  sampleMetric: 'sigmaMax' | 'sigmaMin' | 'rmsGain';
  filter: string;
}

const LABEL = { healthy: 'Healthy', 'at-risk': 'At risk', pathological: 'Pathological' } as const;
const SEVERITIES = ['error', 'warning', 'info'] as const;

/**
 * The report: verdict and run facts, the layers-by-metrics heatmap (or layers by samples), the
 * gradient flow against depth, the selected layer's spectrum, figures and fixes, and the findings,
 * each chart with an accessible table beside it. Charts are created once and updated in place.
 */
export class ReportView {
  private report: AnalysisReport | undefined;
  private stale = false;
  private refining = false;
  private whatIf: WhatIfResult | undefined;
  private readonly flow: FlowChart;
  private readonly lyapunov: LyapunovChart;
  private readonly spectrum: SpectrumChart;
  private readonly parts: Record<'header' | 'heatTable' | 'heatKey' | 'samples' | 'detail' | 'flowNote' | 'flowTable' | 'findings' | 'spectrumTable', HTMLElement>;

  constructor(
    private readonly root: HTMLElement,
    private state: ViewState,
    private readonly saveState: (s: ViewState) => void,
    private readonly actions?: ReportActions,
  ) {
    root.replaceChildren();
    root.classList.add('report');
    const header = el('header');
    const heat = section('heatmap', 'Layers by metric');
    const controls = el('div', undefined, 'controls');
    const viewSelect = document.createElement('vscode-single-select');
    viewSelect.setAttribute('aria-label', 'heatmap view');
    for (const [value, text] of [['metrics', 'Layers × metrics (median over samples)'], ['samples', 'Layers × samples']]) {
      const o = document.createElement('vscode-option');
      o.setAttribute('value', value);
      o.textContent = text;
      viewSelect.append(o);
    }
    (viewSelect as unknown as { value: string }).value = state.view;
    viewSelect.addEventListener('change', () => this.setState({ view: (viewSelect as unknown as { value: string }).value as ViewState['view'] }));
    controls.append(viewSelect);
    // the heatmap is a table of coloured cells, each printing its figure: a static copy (a printout,
    // a screenshot) reads without hovering, and the headers wrap instead of colliding
    const heatTable = el('div', undefined, 'table-box heat-box');
    const heatKey = el('div', undefined, 'heat-key');
    const samples = el('div', undefined, 'samples-box');
    heat.append(controls, heatTable, samples, heatKey);
    const detail = el('aside', undefined, 'detail');
    detail.id = 'detail';
    detail.setAttribute('aria-live', 'polite');
    const spectrumCanvas = canvasBox('spectrum-canvas', 'Singular value spectrum of the selected layer');
    const spectrumTable = el('div', undefined, 'table-box');
    const flow = section('flow', 'Gradient flow through depth');
    const flowNote = el('p', undefined, 'muted flow-note');
    const flowCanvas = canvasBox('flow-canvas', 'Gradient norm against depth; the table below has the same figures');
    const lyapunovCanvas = canvasBox('lyapunov-canvas', 'Running sum of ln(rms gain) against depth; the table below has the same figures');
    lyapunovCanvas.box.classList.add('short');
    const flowTable = el('div', undefined, 'table-box');
    flow.append(flowNote, flowCanvas.box, lyapunovCanvas.box, details('Table: gradient flow', flowTable));
    const findings = section('findings', 'Findings');
    const grid = el('div', undefined, 'grid');
    const main = el('div', undefined, 'main-column');
    main.append(heat, flow);
    const detailWrap = el('div', undefined, 'detail-wrap');
    detailWrap.append(detail, spectrumCanvas.box, details('Table: spectrum', spectrumTable));
    grid.append(main, detailWrap);
    root.append(header, grid, findings);
    this.parts = { header, heatTable, heatKey, samples, detail, flowNote, flowTable, findings, spectrumTable };
    this.flow = new FlowChart(flowCanvas.canvas, (i) => this.select(i));
    this.lyapunov = new LyapunovChart(lyapunovCanvas.canvas, (i) => this.select(i));
    this.spectrum = new SpectrumChart(spectrumCanvas.canvas);
    root.addEventListener('keydown', (e) => this.onKey(e));
  }

  show(report: AnalysisReport, stale: boolean, refining = false): void {
    this.report = report;
    this.stale = stale;
    this.refining = refining;
    this.whatIf = undefined;
    if (this.state.selected >= report.layers.length) this.state.selected = 0;
    this.renderHeader();
    this.renderHeat();
    this.renderFlow();
    this.renderFindings();
    this.renderDetail();
  }

  /** Overlays a what-if preview's "after" gradient flow. */
  showWhatIf(result: WhatIfResult): void {
    this.whatIf = result;
    this.renderFlow();
    this.renderDetail();
  }

  /** Selects a layer (heatmap, flow chart, table row, finding). */
  select(layer: number): void {
    if (!this.report || layer < 0 || layer >= this.report.layers.length) return;
    this.setState({ selected: layer });
    const row = this.parts.heatTable.querySelector<HTMLElement>(`tr[data-layer="${layer}"]`);
    if (row && this.root.contains(document.activeElement) && document.activeElement?.tagName === 'TR') row.focus();
  }

  private setState(patch: Partial<ViewState>): void {
    this.state = { ...this.state, ...patch };
    this.saveState(this.state);
    if (!this.report) return;
    if ('view' in patch || 'sampleMetric' in patch) this.renderHeat();
    if ('selected' in patch) {
      this.markSelectedRow();
      this.renderFlow();
      this.renderDetail();
    }
    if ('filter' in patch) this.renderFindings();
  }

  private onKey(e: KeyboardEvent): void {
    const target = e.target as HTMLElement;
    if (target.tagName !== 'TR' || !target.dataset.layer) return;
    const i = Number(target.dataset.layer);
    const next = e.key === 'ArrowDown' ? i + 1 : e.key === 'ArrowUp' ? i - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? (this.report?.layers.length ?? 1) - 1 : undefined;
    if (next !== undefined) {
      e.preventDefault();
      this.select(next);
      this.parts.heatTable.querySelector<HTMLElement>(`tr[data-layer="${this.state.selected}"]`)?.focus();
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.select(i);
    }
  }

  private renderHeader(): void {
    const r = this.report!;
    const h = this.parts.header;
    h.replaceChildren(el('h1', r.model.path.split(/[\\/]/).pop() ?? r.model.path));
    if (this.stale) h.append(el('p', 'The model changed on disk since this analysis: re-analyse it.', 'stale'));
    const phase = phaseBanner(r, this.refining);
    if (phase) h.append(phase);
    const v = r.verdict;
    if (v) {
      const banner = el('section', undefined, `verdict ${v.status}`);
      banner.setAttribute('role', 'status');
      banner.append(icon(v.status === 'pathological' ? 'error' : v.status === 'at-risk' ? 'warning' : 'pass'), el('strong', LABEL[v.status]), el('span', ` · ${v.counts.error} error${v.counts.error === 1 ? '' : 's'}, ${v.counts.warning} warning${v.counts.warning === 1 ? '' : 's'}, ${v.counts.info} info`, 'counts'));
      banner.append(el('p', v.headline.replace(/^[^:]+: /, '')));
      h.append(banner);
    }
    const first = this.doFirstBox();
    if (first) h.append(first);
    if (this.actions) {
      const bar = el('div', undefined, 'actions');
      bar.append(button('Re-analyze', () => this.actions!.analyze()), button('Open model as text', () => this.actions!.openOutline(), true), button('Export…', () => this.actions!.export(), true));
      h.append(bar);
    }
    const run = r.run;
    const facts = el('dl', undefined, 'facts');
    const fact = (k: string, val: string) => facts.append(el('dt', k), el('dd', val));
    fact('Execution provider', `${run.executionProvider.toUpperCase()}${run.executionProviderNote ? ` (CUDA not used: ${run.executionProviderNote})` : ''}`);
    // the size ladder's notes (why an input's sizes are not the defaults), each once
    const sampleNotes = [...new Set(run.sampleInputs.flatMap((s) => (s.note ? [s.note] : [])))];
    fact('Samples', `${run.samples} ${run.sampleSource}, seed ${run.seed}${sampleNotes.map((n) => ` · ${n}`).join('')}`);
    fact('Loss', `${run.loss}${run.lossReduction ? ` (${run.lossReduction} over the batch)` : ''}${run.lossValue !== null ? ` = ${fmt(run.lossValue)}` : ''}${run.lossNote ? ` · ${run.lossNote}` : ''}`);
    const bn = batchNormNote(run);
    if (bn) fact('BatchNorm', bn);
    const e2e = (name: JacobianFigureName) => formatFigure(jacobianFigure(r.endToEnd, name), true);
    fact('End to end', `σmax ${e2e('sigmaMax')} · σmin ${e2e('sigmaMin')} · rms gain ${e2e('rmsGain')} · κ ${e2e('conditionNumber')} · Lyapunov exponent ${fmt(r.endToEnd.lyapunovExponent)}`);
    const c = r.curvature;
    fact('Curvature', c.hessianMaxEigenvalue !== null ? `λmax(H) ${formatFigure(curvatureFigure(c, 'hessianMaxEigenvalue'), true)} → largest stable learning rate ${formatFigure(curvatureFigure(c, 'maxStableLearningRate'))} (SGD), ${formatFigure(curvatureFigure(c, 'maxStableLearningRateMomentum'))} (momentum ${c.momentum})` : `not computed: ${c.reason ?? ''}`);
    fact('Time', `${(run.durationMs / 1000).toFixed(1)} s, ${run.derivativeRuns} derivative runs (onnxruntime ${run.ortVersion}), gradient-doctor ${r.tool.version}`);
    h.append(facts);
  }

  /** The "do this first" box: the fix of the finding that matters most (the one the verdict names), with its number in the list and how far past its threshold it is; its first sentence when it has no fix. */
  private doFirstBox(): HTMLElement | undefined {
    const r = this.report!;
    const first = doThisFirst(r);
    if (!first) return undefined;
    const f = first.finding;
    const box = el('section', undefined, `do-first ${f.severity}`);
    box.setAttribute('aria-label', 'Do this first');
    box.dataset.rule = f.rule;
    box.dataset.finding = f.id;
    const where = f.members ? `${f.members.length} ${memberLabels(f).noun}` : f.range ? `${f.range[0]} .. ${f.range[1]}` : f.layer ?? f.node ?? f.parameter ?? f.tensor ?? 'the model';
    const title = el('h2');
    title.append(icon(f.severity === 'error' ? 'error' : 'warning'), el('span', 'Do this first'));
    const cite = el('p', undefined, 'do-first-cite');
    const link = el('a', `finding ${first.number}`);
    link.href = `#finding-${r.findings.indexOf(f)}`;
    cite.append(el('span', `${f.severity} `, 'severity'), el('span', f.rule, 'rule'), el('span', ` on ${where} · `), link, el('span', f.measured !== undefined && f.threshold !== undefined ? ` · measured ${formatFigure({ value: f.measured, kind: f.measuredKind ?? 'exact' })} against ${f.thresholdName ?? 'its threshold'} ${fmt(f.threshold)}${pastText(f)}` : ''));
    box.append(title, f.fix ? el('p', f.fix, 'do-first-fix') : el('p', `${firstSentence(f.message)} No fix to suggest: the finding says what was measured.`, 'do-first-fix none'), cite);
    const layer = layerIndexOf(r, f);
    if (layer >= 0) link.addEventListener('click', () => this.select(layer));
    return box;
  }

  private renderHeat(): void {
    const r = this.report!;
    const perSample = this.state.view === 'samples';
    this.parts.heatTable.hidden = perSample;
    this.parts.samples.hidden = !perSample;
    if (perSample) this.renderSamples();
    const { metrics, dropped } = shownMetrics(r);
    // one row per layer, one coloured column per metric, each cell printing its figure; flagged cells outlined and marked
    const cells = heatmapCells(r, metrics);
    const dark = isDark();
    const t = el('table', undefined, 'heat-table');
    t.append(el('caption', 'Rows: layers in depth order; colours: the key below; ⚑ and a red outline: a finding flags the cell'));
    const head = el('tr');
    head.append(el('th', '#'), el('th', 'layer'), ...metrics.map((m) => {
      const th = el('th', m.label);
      th.title = m.description;
      th.dataset.metric = m.key;
      return th;
    }));
    t.createTHead().append(head);
    const body = el('tbody');
    r.layers.forEach((l, li) => {
      const tr = el('tr');
      tr.dataset.layer = String(li);
      tr.tabIndex = li === this.state.selected ? 0 : -1;
      tr.addEventListener('click', () => this.select(li));
      const name = el('th', l.name);
      name.title = l.name;
      tr.append(el('td', String(li + 1), 'index'), name);
      for (let mi = 0; mi < metrics.length; mi++) {
        const c = cells[mi * r.layers.length + li];
        const td = el('td', undefined, 'cell');
        td.dataset.metric = metrics[mi].key;
        td.append(el('span', c.value === null ? '—' : cellText(c).replace(' ', '\u00a0'), 'value'));
        td.style.background = cellColor(c.t, dark);
        td.style.color = inkFor(c.t, dark);
        if (c.t !== null) td.dataset.t = c.t.toFixed(3);
        if (c.flagged.length) {
          td.dataset.flagged = c.flagged.map((f) => f.rule).join(' ');
          td.classList.add('flagged');
          const mark = el('span', '⚑', 'flag');
          mark.setAttribute('aria-label', `flagged: ${[...new Set(c.flagged.map((f) => f.rule))].join(', ')}`);
          td.append(mark);
        }
        td.title = cellLabel(r, metrics[mi], c).join('\n');
        tr.append(td);
      }
      body.append(tr);
    });
    t.append(body);
    this.parts.heatTable.classList.toggle('tall', r.layers.length > 40);
    this.parts.heatTable.replaceChildren(t);
    this.parts.heatKey.replaceChildren(heatKey(r, metrics, dark), ...dropped.map((d) => el('p', `${d.metric.label} is left out: ${d.why}.`, 'muted dropped')));
    this.markSelectedRow();
  }

  private renderSamples(): void {
    const r = this.report!;
    const key = this.state.sampleMetric;
    const box = this.parts.samples;
    const select = document.createElement('vscode-single-select');
    select.setAttribute('aria-label', 'per-sample figure');
    for (const [value, text] of [['sigmaMax', 'σmax'], ['sigmaMin', 'σmin'], ['rmsGain', 'rms gain']]) {
      const o = document.createElement('vscode-option');
      o.setAttribute('value', value);
      o.textContent = text;
      select.append(o);
    }
    (select as unknown as { value: string }).value = key;
    select.addEventListener('change', () => this.setState({ sampleMetric: (select as unknown as { value: string }).value as ViewState['sampleMetric'] }));
    const t = el('table', undefined, 'samples-table');
    t.append(el('caption', `Layers by sample: ${key} at each sample (a pathology that depends on the input shows as a row that changes colour)`));
    const n = r.run.samples;
    const head = el('tr');
    head.append(el('th', 'layer'), ...Array.from({ length: n }, (_, i) => el('th', `sample ${i + 1}`)));
    t.createTHead().append(head);
    const body = el('tbody');
    const dark = isDark();
    for (const l of r.layers) {
      const tr = el('tr');
      tr.append(el('th', l.name));
      const per = l.jacobian.spread?.[key].perSample ?? [l.jacobian[key]];
      for (let i = 0; i < n; i++) {
        const v = per[i] ?? null;
        const pos = scalePosition('gain', v, null);
        const td = el('td', fmt(v), 'swatch');
        td.style.background = cellColor(pos, dark);
        td.style.color = inkFor(pos, dark);
        tr.append(td);
      }
      body.append(tr);
    }
    t.append(body);
    box.replaceChildren(select, t);
  }

  private markSelectedRow(): void {
    for (const tr of this.parts.heatTable.querySelectorAll<HTMLElement>('tr[data-layer]')) {
      const on = Number(tr.dataset.layer) === this.state.selected;
      tr.classList.toggle('selected', on);
      tr.setAttribute('aria-selected', String(on));
      tr.tabIndex = on ? 0 : -1;
    }
  }

  private renderFlow(): void {
    const r = this.report!;
    this.flow.update(r, this.state.selected, this.whatIf?.layers.map((l) => l.gradientInput[1]));
    this.lyapunov.update(r, this.state.selected);
    this.parts.flowNote.textContent = `L, the loss whose gradient flows back: ${lossName(r)}${r.run.lossValue !== null ? ` = ${fmt(r.run.lossValue)}` : ''}${r.run.lossNote ? ` (${r.run.lossNote})` : ''}. Below it, the running sum of ln(rms gain) over the layers: its slope is the Lyapunov exponent.`;
    const s = flowSeries(r);
    const rows = s.map((x, i) => [String(i + 1), x.layer, fmt(x.gradient), fmt(x.gain), fmt(x.lyapunov), ...(this.whatIf ? [fmt(this.whatIf.layers[i]?.gradientInput[1] ?? null)] : [])]);
    this.parts.flowTable.replaceChildren(table(['#', 'layer', '‖∂L/∂input‖', 'rms gain', 'Σ ln(rms gain)', ...(this.whatIf ? ['‖∂L/∂input‖ after the fix'] : [])], rows, 'Gradient flow in depth order'));
  }

  private renderDetail(): void {
    const r = this.report!;
    const l = r.layers[this.state.selected];
    const d = this.parts.detail;
    d.replaceChildren();
    if (!l) return;
    d.append(el('h2', `${l.index + 1}. ${l.name}`), el('p', `${l.opTypes.join(' + ')} · in ${l.inputTensors.join(', ')} → out ${l.outputTensors.join(', ')}`, 'muted'));
    const j = l.jacobian;
    // an estimate's error bar is its own; exact figures share one (float32 rounding), printed once under the table
    const exactBars: number[] = [];
    const row = (label: string, name: JacobianFigureName) => {
      const f = jacobianFigure(j, name);
      if (f?.kind === 'exact' && f.error !== undefined) exactBars.push(f.error);
      // a bound has no error bar of its own (a Lanczos residual beside it would read as one)
      const bar = f?.kind === 'estimate' && f.error !== undefined ? `± ${fmt(f.error)}` : f?.kind === 'exact' && f.error !== undefined ? 'float32' : '';
      return [label, formatFigure(f), bar, f ? kindText(f.kind) : 'not computed'];
    };
    const figures = table(['figure', 'value', 'error bar', 'kind'], [
      row('σmax', 'sigmaMax'),
      row('σmin', 'sigmaMin'),
      row('rms gain', 'rmsGain'),
      row('condition κ', 'conditionNumber'),
      ['‖∂L/∂input‖', fmt(l.gradient.inputNorm), '', 'exact'],
      ['‖∂L/∂output‖', fmt(l.gradient.outputNorm), '', 'exact'],
      ['method', j.method, j.note ?? j.reason ?? '', ''],
      ...(rankText(j) ? [['rank', `${j.rank!.value} / ${j.rank!.of}`, rankText(j)!, 'exact']] : []),
    ], 'Figures (median over samples)');
    figures.classList.add('figures');
    d.append(figures);
    if (exactBars.length) d.append(el('p', `float32: the exact figures are exact to float32 rounding, ± ${fmt(Math.max(...exactBars))} at most.`, 'muted error-note'));
    const spectrum = this.spectrum.update(r, this.state.selected);
    this.parts.spectrumTable.replaceChildren(spectrum
      ? table(['from', 'to', 'mass', '± std. error'], spectrum.bins.map((b) => [fmt(b.from), fmt(b.to), fmt(b.mass), fmt(b.stderr)]), spectrum.kind === 'exact' ? 'Singular values (exact), per log-spaced bin' : 'Spectral density (stochastic Lanczos quadrature estimate), per log-spaced bin')
      : el('p', 'No spectrum for this layer.', 'muted'));
    const fs = findingsOf(r, l);
    const box = el('div', undefined, 'layer-findings');
    box.append(el('h3', fs.length ? `Findings (${fs.length})` : 'No findings on this layer'));
    for (const f of fs) box.append(this.findingItem(f, false));
    if (this.actions && l.nodes[0]) box.append(button('Go to node', () => this.actions!.revealNode(l.nodes[0]), true));
    if (this.whatIf) {
      const w = this.whatIf.layers[this.state.selected];
      if (w) box.append(el('p', `What-if: ‖∂L/∂input‖ ${fmt(w.gradientInput[0])} → ${fmt(w.gradientInput[1])}, rms gain ${fmt(w.rmsGain[0])} → ${fmt(w.rmsGain[1])}, σmax ${fmt(w.sigmaMax[0])} → ${fmt(w.sigmaMax[1])}`, 'whatif'));
    }
    d.append(box);
  }

  private renderFindings(): void {
    const r = this.report!;
    const box = this.parts.findings;
    const title = box.querySelector('h2')!;
    box.replaceChildren(title);
    const filter = document.createElement('vscode-textfield');
    filter.setAttribute('placeholder', 'Filter findings (rule, layer, text)');
    filter.setAttribute('aria-label', 'Filter findings');
    (filter as unknown as { value: string }).value = this.state.filter;
    filter.addEventListener('input', () => {
      this.state = { ...this.state, filter: (filter as unknown as { value: string }).value };
      this.saveState(this.state);
      this.renderFindingGroups(groups);
    });
    const groups = el('div', undefined, 'groups');
    box.append(filter, groups);
    this.renderFindingGroups(groups);
    title.textContent = `Findings (${r.findings.length})`;
  }

  private renderFindingGroups(groups: HTMLElement): void {
    const r = this.report!;
    const q = this.state.filter.trim().toLowerCase();
    const text = (f: Finding) => `${f.rule} ${f.layer ?? ''} ${f.message} ${f.fix ?? ''} ${f.members ? memberLabels(f).labels.join(' ') : ''}`;
    const shown = r.findings.filter((f) => !q || text(f).toLowerCase().includes(q));
    groups.replaceChildren();
    if (r.findings.length === 0) groups.append(el('p', 'No findings at these samples.'));
    // numbered through the groups (errors, warnings, info), as the "do this first" box cites them
    let n = 1;
    for (const sev of SEVERITIES) {
      const of = shown.filter((f) => f.severity === sev);
      if (of.length === 0) continue;
      const g = el('section', undefined, `group ${sev}`);
      g.append(el('h3', `${sev === 'error' ? 'Errors' : sev === 'warning' ? 'Warnings' : 'Info'} (${of.length})`));
      const list = el('ol');
      list.start = n;
      n += of.length;
      for (const f of of) {
        const item = this.findingItem(f, true);
        item.id = `finding-${r.findings.indexOf(f)}`;
        list.append(item);
      }
      g.append(list);
      groups.append(g);
    }
  }

  private findingItem(f: Finding, selectable: boolean): HTMLElement {
    const r = this.report!;
    const item = el('li', undefined, `finding ${f.severity}`);
    item.dataset.rule = f.rule;
    const layerIndex = layerIndexOf(r, f);
    const head = el(selectable && layerIndex >= 0 ? 'button' : 'span', undefined, 'finding-head');
    // a group is on its members (listed below it), not on its first layer alone
    const on = f.members ? `${f.members.length} ${memberLabels(f).noun}` : f.layer;
    head.append(icon(f.severity), el('span', f.severity, 'severity'), el('span', ` ${f.rule}`, 'rule'), ...(on ? [el('span', ` · ${on}`, 'muted')] : []));
    if (selectable && layerIndex >= 0) {
      head.setAttribute('aria-label', `${f.severity} ${f.rule} on ${on}: select the ${f.members ? 'first ' : ''}layer`);
      head.addEventListener('click', () => this.select(layerIndex));
    }
    item.append(head, el('p', f.message));
    if (f.measured !== undefined && f.threshold !== undefined) item.append(el('p', `measured ${formatFigure({ value: f.measured, kind: f.measuredKind ?? 'exact' })} (${f.measuredName ?? ''}) against ${f.thresholdName ?? 'threshold'} ${fmt(f.threshold)}`, 'measure'));
    item.append(el('p', `Why: ${f.why}`, 'why'));
    if (f.fix) item.append(el('p', `Fix: ${f.fix}`, 'fix'));
    if (f.members) item.append(this.memberList(f, selectable));
    if (this.actions && f.remedies?.length) item.append(button(f.members ? `Preview the fix of all ${f.members.length} (what-if)` : 'Preview fix (what-if)', () => this.actions!.previewFix(f.id)));
    return item;
  }

  /** A grouped finding's members: each layer (weight, node) with its figure, its own message on hover; a click selects its layer. */
  private memberList(f: Finding, selectable: boolean): HTMLElement {
    const r = this.report!;
    const { noun, labels } = memberLabels(f);
    const list = el('ol', undefined, 'members');
    list.setAttribute('aria-label', `${f.members!.length} ${noun}`);
    f.members!.forEach((m, i) => {
      const li = el('li', undefined, 'member');
      li.dataset.member = m.id;
      const figure = m.measured !== undefined ? ` ${formatFigure({ value: m.measured, kind: m.measuredKind ?? 'exact' })}` : '';
      const layerIndex = layerIndexOf(r, m);
      const head = el(selectable && layerIndex >= 0 ? 'button' : 'span', undefined, 'member-head');
      head.append(el('span', labels[i], 'member-name'), el('span', figure, 'member-figure'));
      head.title = m.message;
      if (selectable && layerIndex >= 0) {
        head.setAttribute('aria-label', `${labels[i]}${figure}: select the layer`);
        head.addEventListener('click', () => this.select(layerIndex));
      }
      li.append(head);
      list.append(li);
    });
    const box = el('div', undefined, 'members-box');
    box.append(el('p', `${noun[0].toUpperCase()}${noun.slice(1)} (${f.members!.length}):`, 'members-label measure'), list);
    return box;
  }
}

/** A codicon (decorative: the text beside it says the same). */
function icon(name: 'error' | 'warning' | 'info' | 'pass'): HTMLElement {
  const i = el('span', undefined, `codicon codicon-${name} icon-${name}`);
  i.setAttribute('aria-hidden', 'true');
  return i;
}

function section(id: string, title: string): HTMLElement {
  const s = el('section', undefined, id);
  s.id = id;
  s.append(el('h2', title));
  return s;
}

function canvasBox(id: string, label: string): { box: HTMLElement; canvas: HTMLCanvasElement } {
  const box = el('div', undefined, 'chart-box');
  const canvas = el('canvas');
  canvas.id = id;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label);
  box.append(canvas);
  return { box, canvas };
}

function details(summary: string, content: HTMLElement): HTMLElement {
  const d = el('details');
  d.append(el('summary', summary), content);
  return d;
}

/** The tooltip of a cell: the exact figure, how it was computed and its error bar, and what flags it. */
export function cellLabel(r: AnalysisReport, m: Metric, cell: Cell): string[] {
  const l = r.layers[cell.layer];
  const f = m.figure?.(l);
  const lines = [`${m.label} = ${f ? formatFigure(f, true) : fmt(cell.value)} (${m.description})`];
  if (m.figure) lines.push(`method: ${l.jacobian.method}${f ? `; ${kindText(f.kind)}` : ''}`);
  if (m.key === 'condition' && rankText(l.jacobian)) lines.push(rankText(l.jacobian)!);
  for (const f of cell.flagged) lines.push(`⚑ ${f.severity}: ${f.rule}`);
  return lines;
}

/** One swatch of the key: its colour and the value it stands for. */
function swatch(t: number | null, text: string, dark: boolean): HTMLElement {
  const s = el('span', text, 'key-swatch');
  s.style.background = cellColor(t, dark);
  s.style.color = inkFor(t, dark);
  if (t !== null) s.dataset.t = String(t);
  return s;
}

/** The heatmap's key: one row per colour scale of the shown columns, each swatch printing the value it stands for. */
function heatKey(r: AnalysisReport, metrics: Metric[], dark: boolean): HTMLElement {
  const box = el('div', undefined, 'key');
  box.append(el('h3', 'Key'));
  const line = (scale: Metric['scale'], what: string, stops: Array<[number, string]>) => {
    const of = metrics.filter((m) => m.scale === scale);
    if (of.length === 0) return;
    const row = el('div', undefined, 'key-row');
    row.dataset.scale = scale;
    row.append(el('span', of.map((m) => m.label).join(', '), 'key-name'), ...stops.map(([v, text]) => swatch(scalePosition(scale, v, 1), text, dark)), el('span', what, 'key-what muted'));
    box.append(row);
  };
  line('gain', 'gain per layer (Var(w)/ideal: the weights\' variance over the ideal init); 1 keeps signals their size; blue shrinks them, orange grows them', [[0.01, '0.01'], [0.1, '0.1'], [1, '1'], [10, '10'], [100, '100']]);
  line('condition', 'κ = σmax / σmin: how unevenly the layer treats directions; 1 is even, orange is ill-conditioned (∞: singular)', [[1, '1'], [100, '100'], [1e4, '10⁴'], [1e6, '≥ 10⁶']]);
  for (const m of metrics.filter((x) => x.scale === 'output')) {
    const ref = m.reference?.(r);
    const row = el('div', undefined, 'key-row');
    row.dataset.scale = 'output';
    row.dataset.metric = m.key;
    row.append(el('span', m.label, 'key-name'), ...([[1e-4, '10⁻⁴×'], [1e-2, '10⁻²×'], [1, 'within 10×'], [1e2, '10²×'], [1e4, '10⁴×']] as Array<[number, string]>).map(([v, text]) => swatch(ref ? scalePosition('output', v, 1) : null, text, dark)), el('span', ref ? `against ${ref.name}; within 10x of it is healthy` : 'no reference to colour against', 'key-what muted'));
    box.append(row);
  }
  line('fraction', 'fraction of units saturated or dead on every sample', [[0, '0'], [0.5, '50%'], [1, '100%']]);
  const flag = el('div', undefined, 'key-row');
  const s = el('span', '⚑', 'key-swatch flagged-swatch');
  flag.append(el('span', 'flagged', 'key-name'), s, el('span', 'a finding flags this cell (listed under Findings)', 'key-what muted'));
  box.append(flag);
  return box;
}

/** How far a finding's figure is past its threshold, in words ("6.4 decades past"), or '' when it has none. */
function pastText(f: Finding): string {
  const past = pastThreshold(f);
  if (past === null) return '';
  return past >= 1 ? `, ${past.toFixed(1)} decades past it` : `, ${fmt(10 ** past)}x past it`;
}
