import type { Figure, Finding, LayerReport } from '../../../src/core/report/types';
import { fmt, formatFigure, jacobianFigure } from '../../../src/core/report/figures';
import type { Comparison, LayerPair } from '../../../src/core/review/compare';
import { button, el, table } from '../dom';
import { CompareFlowChart } from './charts';
import { scalePosition } from './metrics';
import { cellColor, inkFor, isDark } from './palette';

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
  root.append(el('h1', `${name(c.candidate.path)} against ${name(c.base.path)}`));
  if (actions) {
    const bar = el('div', undefined, 'actions');
    bar.append(button('Export…', () => actions.export(), true));
    root.append(bar);
  }
  const banner = el('section', undefined, `verdict ${c.regressions.length ? 'pathological' : c.candidate.verdict}`);
  banner.setAttribute('role', 'status');
  banner.append(
    el('strong', `${LABEL[c.base.verdict]} → ${LABEL[c.candidate.verdict]}`),
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

  // each figure: base, candidate and their ratio (the ratio cell coloured: orange up, blue down)
  const figures: Array<[string, (l: LayerReport) => Figure | null, keyof LayerPair['change']]> = [
    ['rms gain', (l) => jacobianFigure(l.jacobian, 'rmsGain'), 'rmsGain'],
    ['σmax', (l) => jacobianFigure(l.jacobian, 'sigmaMax'), 'sigmaMax'],
    ['σmin', (l) => jacobianFigure(l.jacobian, 'sigmaMin'), 'sigmaMin'],
    ['‖∂L/∂in‖', (l) => (l.gradient.inputNorm === null ? null : { value: l.gradient.inputNorm, kind: 'exact' }), 'gradient'],
  ];
  const ratio = (x: number | null) => (x !== null ? `×${fmt(x)}` : '');
  const t = table(
    ['layer', 'status', ...figures.flatMap(([n]) => [`${n} (base)`, `${n} (candidate)`, `${n} change`])],
    c.layers.map((p) => [
      p.candidate?.name ?? p.base?.name ?? '', p.status === 'matched' ? (p.match === 'name' ? 'matched' : `matched by ${p.match}`) : p.status,
      ...figures.flatMap(([, get, key]) => [formatFigure(p.base ? get(p.base) : null), formatFigure(p.candidate ? get(p.candidate) : null), ratio(p.change[key])]),
    ]),
    'Layers side by side (in the candidate\'s depth order; removed base layers after their predecessor); change = candidate / base',
  );
  t.classList.add('compare-table');
  const dark = isDark();
  t.querySelectorAll('tbody tr').forEach((tr, i) => {
    const p = c.layers[i];
    tr.classList.add(p.status);
    figures.forEach(([, , key], k) => {
      const x = p.change[key];
      if (x === null) return;
      const cell = tr.children[2 + 3 * k + 2] as HTMLElement;
      const pos = scalePosition('relative', x, 1);
      cell.style.background = cellColor(pos, dark);
      cell.style.color = inkFor(pos, dark);
    });
  });
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
