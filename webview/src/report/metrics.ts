import { memberFindings } from '../../../src/core/diagnosis/group';
import { fmt, formatFigure, jacobianFigure, type JacobianFigureName } from '../../../src/core/report/figures';
import type { AnalysisReport, Figure, FigureKind, Finding, FindingMember, LayerReport } from '../../../src/core/report/types';

/**
 * How a metric is coloured: `gain` diverges on a log scale around the healthy value 1 (contracting
 * in one hue, expanding in the other); `condition` and `fraction` are sequential from healthy
 * (1 and 0) to bad; `output` diverges around a reference at the model's output (the gradient
 * leaving the model), neutral within 10x of it (the healthy band of the gradient-flow chart), never
 * around the model's own median (which would colour a model whose every layer is 10^4 below its
 * output as healthy).
 */
export type ScaleKind = 'gain' | 'condition' | 'fraction' | 'output';

/** The value an `output`-scaled metric is coloured against, and what it is. */
export interface Reference {
  value: number;
  /** What the reference is, for the key: 'the gradient leaving the model'. */
  name: string;
}

/** One column of the heatmap. */
export interface Metric {
  key: string;
  label: string;
  /** What the column shows, for the tooltip and the table's header. */
  description: string;
  scale: ScaleKind;
  value(layer: LayerReport, report: AnalysisReport): number | null;
  /** The figure with its kind, for the Jacobian's figures (bounds print as bounds). */
  figure?(layer: LayerReport): Figure | null;
  /** For the `output` scale: what the value is coloured against, or null when the report has none. */
  reference?(report: AnalysisReport): Reference | null;
  /** Rules whose findings on a layer mark this column's cell. */
  rules: string[];
}

function jacobianMetric(name: JacobianFigureName, label: string, description: string, scale: ScaleKind, rules: string[]): Metric {
  return { key: name, label, description, scale, rules, value: (l) => jacobianFigure(l.jacobian, name)?.value ?? null, figure: (l) => jacobianFigure(l.jacobian, name) };
}

const weightOf = (l: LayerReport, r: AnalysisReport) => l.parameters.map((p) => r.parameters.find((q) => q.name === p)).find((p) => p?.varianceRatio);

/** The layer nearest the output (highest index). */
const lastLayer = (r: AnalysisReport) => r.layers.reduce<LayerReport | undefined>((a, l) => (!a || l.index > a.index ? l : a), undefined);

/** The gradient leaving the model: at the last layer's output. */
export function outputGradient(r: AnalysisReport): number | null {
  const g = lastLayer(r)?.gradient.outputNorm ?? null;
  return g !== null && Number.isFinite(g) && g > 0 ? g : null;
}

const gradWeight = (l: LayerReport, r: AnalysisReport) => weightOf(l, r)?.gradToWeightRatio ?? null;

export const METRICS: Metric[] = [
  jacobianMetric('sigmaMax', 'σmax', 'largest singular value of the layer Jacobian (healthy: near 1)', 'gain', ['exploding-layer']),
  jacobianMetric('sigmaMin', 'σmin', 'smallest singular value of the layer Jacobian (healthy: near 1)', 'gain', []),
  jacobianMetric('rmsGain', 'rms gain', 'root-mean-square singular value, the average gain (healthy: near 1)', 'gain', ['contracting-layer']),
  { ...jacobianMetric('conditionNumber', 'κ', 'condition number σmax / σmin (healthy: near 1; ∞: a singular Jacobian)', 'condition', ['ill-conditioned-layer']), key: 'condition' },
  {
    key: 'gradient', label: '‖∂L/∂in‖', description: 'backpropagated gradient norm at the layer input, coloured against the gradient leaving the model (healthy: within 10x of it)', scale: 'output',
    value: (l) => l.gradient.inputNorm, rules: ['vanishing-gradient', 'exploding-gradient'],
    reference: (r) => {
      const g = outputGradient(r);
      return g === null ? null : { value: g, name: `the gradient leaving the model, ${fmt(g)}` };
    },
  },
  {
    key: 'gradWeight', label: '‖∂L/∂w‖/‖w‖', description: 'parameter gradient to weight norm ratio, coloured against the last weighted layer\'s (healthy: within 10x of it)', scale: 'output',
    value: gradWeight, rules: [],
    reference: (r) => {
      const ref = [...r.layers].sort((a, b) => b.index - a.index).map((l) => ({ l, v: gradWeight(l, r) })).find((x) => x.v !== null && Number.isFinite(x.v) && x.v > 0);
      return ref ? { value: ref.v!, name: `${ref.l.name}'s, ${fmt(ref.v)}` } : null;
    },
  },
  { key: 'saturation', label: 'saturated', description: 'fraction of units saturated (sigmoid/tanh) or dead (ReLU) on every sample (healthy: 0)', scale: 'fraction', value: (l) => l.saturation?.fraction ?? null, rules: ['saturated-units', 'dead-units'] },
  {
    key: 'variance', label: 'Var(w)/ideal', description: 'weight variance over the He (ReLU-like) or LeCun expectation for its fan-in (healthy: near 1)', scale: 'gain',
    value: (l, r) => {
      const w = weightOf(l, r);
      if (!w?.varianceRatio) return null;
      const act = [...l.opTypes].reverse().find((op) => ['Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Gelu', 'HardSwish', 'Mish', 'Clip', 'Sigmoid', 'Tanh'].includes(op));
      return ['Sigmoid', 'Tanh', undefined].includes(act) ? w.varianceRatio.lecun : w.varianceRatio.he;
    },
    rules: ['mis-scaled-init', 'heavy-tailed-weights'],
  },
];

/** A cell of the heatmap: its value, its position on the colour scale and whether a finding flags it. */
export interface Cell {
  layer: number;
  metric: number;
  value: number | null;
  /** -1 (strongly contracting / far below) .. 0 (healthy) .. 1 (strongly expanding / bad); null when there is no value. */
  t: number | null;
  /** What the value is, where the metric says (a bound prints as one). */
  kind?: FigureKind;
  /** Its error bar, where the metric has one (a measurement within it of 0 prints as '≤ error bar'). */
  error?: number;
  /** The findings of the metric's rules that flag it: of a grouped finding, its member on this layer (as a finding of its own). */
  flagged: Finding[];
}

/** Decades from healthy at which the colour saturates, per scale (`output`: decades beyond the 10x band). */
export const SPAN = { gain: 2, output: 3, condition: 6 } as const;

/** The decades around an `output` reference that are healthy (the flow chart's band: within 10x). */
export const BAND_DECADES = 1;

/** The position of a value on its metric's colour scale (`reference`: the `output` scale's). */
export function scalePosition(scale: ScaleKind, v: number | null, reference: number | null): number | null {
  if (v === Infinity && scale === 'condition') return 1;
  if (v === null || !Number.isFinite(v)) return null;
  const clamp = (x: number) => Math.max(-1, Math.min(1, x));
  switch (scale) {
    case 'gain':
      return v <= 0 ? -1 : clamp(Math.log10(v) / SPAN.gain);
    case 'output': {
      if (!reference) return null;
      if (v <= 0) return -1;
      const d = Math.log10(v / reference);
      return Math.abs(d) <= BAND_DECADES ? 0 : clamp(Math.sign(d) * (Math.abs(d) - BAND_DECADES) / SPAN.output);
    }
    case 'condition':
      return clamp(Math.log10(Math.max(v, 1)) / SPAN.condition);
    case 'fraction':
      return clamp(v);
  }
}

/** A cell's figure (a bound prints as one; a measurement within its error bar of 0 as '≤ error bar'). */
export function cellFigure(c: Cell): Figure | null {
  return c.value === null ? null : { value: c.value, kind: c.kind ?? 'exact', error: c.error };
}

/** A cell's text: its figure, as every view prints it. */
export function cellText(c: Cell): string {
  return formatFigure(cellFigure(c));
}

/** Every cell of the heatmap: layers (rows, depth order) by metrics (columns), for `metrics` (all by default). */
export function heatmapCells(r: AnalysisReport, metrics: Metric[] = METRICS): Cell[] {
  const cells: Cell[] = [];
  metrics.forEach((m, mi) => {
    const reference = m.reference?.(r)?.value ?? null;
    r.layers.forEach((l, li) => {
      const value = m.value(l, r);
      const flagged = flagsOn(r, l, m.rules);
      const f = m.figure?.(l);
      cells.push({ layer: li, metric: mi, value, t: scalePosition(m.scale, value, reference), kind: f?.kind, error: f?.error, flagged });
    });
  });
  return cells;
}

/** A column the heatmap leaves out, and why (shown under it). */
export interface DroppedMetric {
  metric: Metric;
  why: string;
}

/**
 * The columns that carry a signal for this report, and those left out with the reason: a column
 * with no figure on any layer, or one where every layer's figure is only bounded above (σmin of a
 * singular Jacobian, within its error bar of 0), which says nothing layer by layer. A flagged
 * column is always shown.
 */
export function shownMetrics(r: AnalysisReport): { metrics: Metric[]; dropped: DroppedMetric[] } {
  const metrics: Metric[] = [];
  const dropped: DroppedMetric[] = [];
  const cells = heatmapCells(r);
  METRICS.forEach((m, mi) => {
    const column = cells.filter((c) => c.metric === mi);
    if (column.some((c) => c.flagged.length > 0) || r.layers.length === 0) metrics.push(m);
    else if (column.every((c) => c.value === null)) dropped.push({ metric: m, why: `no layer has one (${m.description.replace(/ \(healthy:.*\)$/, '')})` });
    else if (column.every((c) => c.value === null || cellText(c).startsWith('≤'))) {
      dropped.push({ metric: m, why: m.key === 'sigmaMin'
        ? 'on every layer it is 0 within its error bar or only bounded above (≤): the Jacobians are singular at these samples (units switched off, as ReLU does), which κ shows as ∞ or a lower bound'
        : 'on every layer it is only bounded above (≤)' });
    } else metrics.push(m);
  });
  return { metrics, dropped };
}

/**
 * The findings of these rules that flag a layer: one on it or on a stretch through it, and of a
 * group (whose layers need not be one stretch) the member on it.
 */
function flagsOn(r: AnalysisReport, l: LayerReport, rules: string[]): Finding[] {
  return r.findings.filter((f) => rules.includes(f.rule)).flatMap(memberFindings).filter((f) => f.layer === l.name || (f.range && inRange(r, l, f.range)));
}

function inRange(r: AnalysisReport, l: LayerReport, range: [string, string]): boolean {
  const a = r.layers.findIndex((x) => x.name === range[0]);
  const b = r.layers.findIndex((x) => x.name === range[1]);
  return a >= 0 && b >= 0 && l.index >= r.layers[a].index && l.index <= r.layers[b].index;
}

/** Whether a finding is about a layer: by its layer, node or weight. */
function isOn(f: Finding, l: LayerReport): boolean {
  return f.layer === l.name || (f.node !== undefined && l.nodes.includes(f.node)) || (f.parameter !== undefined && l.parameters.includes(f.parameter));
}

/**
 * The findings about a layer, for its detail: those on it (by layer, node or weight), and of a
 * grouped finding the member on it, as a finding of its own (its figure, message and fix). A
 * finding about a stretch of layers is listed on its first.
 */
export function findingsOf(r: AnalysisReport, l: LayerReport): Finding[] {
  return r.findings.flatMap(memberFindings).filter((f) => isOn(f, l));
}

/** The index of the layer a finding (or a group's member) is on, by its layer or node; -1 when none. */
export function layerIndexOf(r: AnalysisReport, f: Finding | FindingMember): number {
  return r.layers.findIndex((l) => l.name === f.layer || (f.node !== undefined && l.nodes.includes(f.node)));
}

/** The gradient-flow series: the gradient norm at each layer's input in depth order, with gains and the running Lyapunov sum. */
export function flowSeries(r: AnalysisReport): Array<{ layer: string; gradient: number | null; gain: number | null; lyapunov: number | null }> {
  return r.layers.map((l) => ({ layer: l.name, gradient: l.gradient.inputNorm, gain: l.jacobian.rmsGain, lyapunov: l.lyapunovRunningSum }));
}
