import type { Figure, Finding, LayerReport } from '../../../src/core/report/types';
import { fmt, formatFigure } from '../../../src/core/report/figures';
import { pairFigure, ratioText, type Comparison, type LayerPair } from '../../../src/core/review/compare';
import { button, el } from '../dom';
import { CompareFlowChart } from './charts';
import { BAND_DECADES } from './metrics';
import { changeColor, isDark } from './palette';

const LABEL: Record<string, string> = { healthy: 'Healthy', 'at-risk': 'At risk', pathological: 'Pathological', unknown: 'Unknown' };
const name = (p: string) => p.split(/[\\/]/).pop() ?? p;

/**
 * A comparison of two models: the verdicts, the two gradient flows overlaid, the layers side by
 * side with the gradient's change coloured (orange: more gradient reaches the layer, blue: less),
 * and the regressions, findings introduced and findings resolved.
 */
export function renderComparison(root: HTMLElement, c: Comparison, actions?: { export(): void }): void {
  root.replaceChildren();
  root.classList.add('report', 'comparison');
  // base first, candidate second, everywhere: the title, the verdicts, the facts, the chart and the columns
  root.append(el('h1', `${name(c.base.path)} (base) → ${name(c.candidate.path)} (candidate)`));
  if (actions) {
    const bar = el('div', undefined, 'actions');
    bar.append(button('Export…', () => actions.export(), true));
    root.append(bar);
  }
  const banner = el('section', undefined, `verdict ${c.regressions.length ? 'pathological' : c.candidate.verdict}`);
  banner.setAttribute('role', 'status');
  banner.append(
    el('strong', `${LABEL[c.base.verdict]} → ${LABEL[c.candidate.verdict]}`),
    el('span', ' (base → candidate)', 'muted'),
    el('span', ` · ${c.introduced.length} introduced, ${c.resolved.length} resolved · ${c.regressions.length ? `${c.regressions.length} regression${c.regressions.length > 1 ? 's' : ''}` : 'no regression'}`, 'counts'),
  );
  if (c.samplesNote) banner.append(el('p', `Note: ${c.samplesNote}.`));
  root.append(banner);
  const facts = el('dl', undefined, 'facts');
  facts.append(el('dt', 'Base'), el('dd', `${c.base.path} · ${c.base.layers} layers · ${c.base.parameters.toLocaleString('en-US')} parameters`));
  facts.append(el('dt', 'Candidate'), el('dd', `${c.candidate.path} · ${c.candidate.layers} layers · ${c.candidate.parameters.toLocaleString('en-US')} parameters`));
  root.append(facts);

  const flow = el('section', undefined, 'flow');
  flow.id = 'flow';
  flow.append(el('h2', 'Gradient flow, base and candidate'));
  const box = el('div', undefined, 'chart-box');
  const canvas = el('canvas');
  canvas.id = 'compare-canvas';
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', 'The two gradient flows against depth; the table below has the same figures');
  box.append(canvas);
  flow.append(box);
  root.append(flow);
  const labels = c.layers.map((p) => p.candidate?.name ?? p.base?.name ?? '');
  new CompareFlowChart(canvas).update(labels, c.layers.map((p) => p.base?.gradient.inputNorm ?? null), c.layers.map((p) => p.candidate?.gradient.inputNorm ?? null));

  // each figure: base, candidate and their ratio, the ratio judged against health: toward it
  // (gains toward 1, the gradient into its model's healthy band) green and "better", away orange and "worse"
  const figures: Array<[string, keyof LayerPair['change'], 'gain' | 'gradient']> = [
    ['rms gain', 'rmsGain', 'gain'],
    ['σmax', 'sigmaMax', 'gain'],
    ['σmin', 'sigmaMin', 'gain'],
    ['‖∂L/∂in‖', 'gradient', 'gradient'],
  ];
  const out = { base: outputOf(c.layers.map((p) => p.base)), candidate: outputOf(c.layers.map((p) => p.candidate)) };
  const dark = isDark();
  const t = el('table', undefined, 'compare-table');
  t.append(el('caption', 'Layers side by side (in the candidate\'s depth order; removed base layers after their predecessor). change = candidate ÷ base; green "better": toward healthy (a gain toward 1, the gradient toward its model\'s healthy band, within 10x of the gradient leaving it); orange "worse": away from it. Where one side is a bound (or within its error bar of 0) the change is a bound, "≥ ×" or "≤ ×"; "—" where the two leave it open (hover for why)'));
  const head = el('tr');
  head.append(el('th', 'layer'), el('th', 'status'), ...figures.flatMap(([n]) => [el('th', `${n} (base)`), el('th', `${n} (candidate)`), el('th', `${n} change`)]));
  t.createTHead().append(head);
  const body = el('tbody');
  for (const p of c.layers) {
    const tr = el('tr', undefined, p.status);
    tr.append(el('td', p.candidate?.name ?? p.base?.name ?? ''), el('td', p.status === 'matched' ? (p.match === 'name' ? 'matched' : `matched by ${p.match}`) : p.status));
    for (const [, name, scale] of figures) {
      const [b, cand] = [p.base ? pairFigure(p.base, name) : null, p.candidate ? pairFigure(p.candidate, name) : null];
      tr.append(el('td', formatFigure(b)), el('td', formatFigure(cand)));
      const td = el('td', undefined, 'change');
      const change = p.change[name];
      const ratio = ratioText(change);
      td.append(el('span', ratio, 'ratio'));
      // what the ratio is: a bound, or why there is none
      if (change && 'reason' in change) td.title = `No ratio: ${change.reason}`;
      else if (change && (change.kind === 'lower-bound' || change.kind === 'upper-bound')) td.title = `A bound: the change is ${change.kind === 'lower-bound' ? 'at least' : 'at most'} this (one side is a bound)`;
      const j = judge(scale, b, cand, out);
      if (j) {
        td.dataset.judgement = j.judgement;
        td.append(el('span', ` ${j.judgement}`, 'judgement'));
        td.style.background = changeColor(j.judgement, j.strength, dark);
        td.style.color = j.strength > 0.6 ? '#ffffff' : dark ? '#e6e6e6' : '#1f1f1f';
      } else if (change && !('reason' in change)) td.dataset.judgement = 'unchanged';
      tr.append(td);
    }
    body.append(tr);
  }
  t.append(body);
  const layers = el('section');
  layers.append(el('h2', 'Layers'), el('div', undefined, 'table-box'));
  layers.lastElementChild!.append(t);
  root.append(layers);

  const list = (title: string, items: string[], cls: string) => {
    const s = el('section', undefined, cls);
    s.append(el('h2', `${title} (${items.length})`));
    const ol = el('ul');
    for (const x of items) ol.append(el('li', x));
    s.append(ol);
    return s;
  };
  const line = (f: Finding) => `${f.severity} ${f.rule}${f.layer ? ` on ${f.layer}` : ''}: ${f.message}${f.fix ? ` Fix: ${f.fix}` : ''}`;
  root.append(list('Regressions', c.regressions, 'regressions'), list('Introduced', c.introduced.map(line), 'introduced'), list('Resolved', c.resolved.map(line), 'resolved'));
}

/** The gradient leaving a model: at the output of its last layer (the highest index). */
function outputOf(layers: Array<LayerReport | undefined>): number | null {
  const last = layers.filter((l): l is LayerReport => l !== undefined).reduce<LayerReport | undefined>((a, l) => (!a || l.index > a.index ? l : a), undefined);
  const g = last?.gradient.outputNorm ?? null;
  return g !== null && g > 0 && Number.isFinite(g) ? g : null;
}

/** Decades from healthy: a gain's from 1, a gradient's from its model's band (within 10x of the gradient leaving it). */
function distance(scale: 'gain' | 'gradient', v: number, reference: number | null): number | null {
  if (!(v > 0) || !Number.isFinite(v)) return null;
  if (scale === 'gain') return Math.abs(Math.log10(v));
  return reference ? Math.max(0, Math.abs(Math.log10(v / reference)) - BAND_DECADES) : null;
}

/**
 * Whether the candidate's figure is healthier than the base's (two measurements only): by at
 * least 0.05 decades (12%); strength: 1 at 2 decades.
 */
function judge(scale: 'gain' | 'gradient', b: Figure | null, c: Figure | null, out: { base: number | null; candidate: number | null }): { judgement: 'better' | 'worse'; strength: number } | undefined {
  if (!b || !c || formatFigure(b) !== fmt(b.value) || formatFigure(c) !== fmt(c.value)) return undefined;
  const [db, dc] = [distance(scale, b.value, out.base), distance(scale, c.value, out.candidate)];
  if (db === null || dc === null || Math.abs(db - dc) < 0.05) return undefined;
  return { judgement: dc < db ? 'better' : 'worse', strength: Math.abs(db - dc) / 2 };
}
