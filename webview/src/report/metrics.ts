import { memberFindings } from '../../../src/core/diagnosis/group';
import { jacobianFigure, type JacobianFigureName } from '../../../src/core/report/figures';
import type { AnalysisReport, Figure, FigureKind, Finding, FindingMember, LayerReport } from '../../../src/core/report/types';

/**
 * How a metric is coloured: `gain` diverges on a log scale around the healthy value 1 (contracting
 * in one hue, expanding in the other); `condition` and `fraction` are sequential from healthy
 * (1 and 0) to bad; `relative` diverges around the model's own median (gradient norms, whose
 * healthy scale depends on the loss).
 */
export type ScaleKind = 'gain' | 'condition' | 'fraction' | 'relative';

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
  /** Rules whose findings on a layer mark this column's cell. */
  rules: string[];
}

function jacobianMetric(name: JacobianFigureName, label: string, description: string, scale: ScaleKind, rules: string[]): Metric {
  return { key: name, label, description, scale, rules, value: (l) => jacobianFigure(l.jacobian, name)?.value ?? null, figure: (l) => jacobianFigure(l.jacobian, name) };
}

const weightOf = (l: LayerReport, r: AnalysisReport) => l.parameters.map((p) => r.parameters.find((q) => q.name === p)).find((p) => p?.varianceRatio);

export const METRICS: Metric[] = [
  jacobianMetric('sigmaMax', 'σmax', 'largest singular value of the layer Jacobian', 'gain', ['exploding-layer']),
  jacobianMetric('sigmaMin', 'σmin', 'smallest singular value of the layer Jacobian', 'gain', []),
  jacobianMetric('rmsGain', 'rms gain', 'root-mean-square singular value (average gain)', 'gain', ['contracting-layer']),
  { ...jacobianMetric('conditionNumber', 'κ', 'condition number σmax / σmin (∞: a singular Jacobian)', 'condition', ['ill-conditioned-layer']), key: 'condition' },
  { key: 'gradient', label: '‖∂L/∂in‖', description: 'backpropagated gradient norm at the layer input, relative to the model median', scale: 'relative', value: (l) => l.gradient.inputNorm, rules: ['vanishing-gradient', 'exploding-gradient'] },
  {
    key: 'gradWeight', label: '‖∂L/∂w‖/‖w‖', description: 'parameter gradient to weight norm ratio, relative to the model median', scale: 'relative',
    value: (l, r) => weightOf(l, r)?.gradToWeightRatio ?? null, rules: [],
  },
  { key: 'saturation', label: 'saturated', description: 'fraction of units saturated (sigmoid/tanh) or dead (ReLU) on every sample', scale: 'fraction', value: (l) => l.saturation?.fraction ?? null, rules: ['saturated-units', 'dead-units'] },
  {
    key: 'variance', label: 'Var(w)/ideal', description: 'weight variance over the He (ReLU-like) or LeCun expectation for its fan-in', scale: 'gain',
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

/** Decades from healthy at which the colour saturates, per scale. */
const SPAN = { gain: 2, relative: 3, condition: 6 } as const;

/** The position of a value on its metric's colour scale. */
export function scalePosition(scale: ScaleKind, v: number | null, median: number | null): number | null {
  if (v === Infinity && scale === 'condition') return 1;
  if (v === null || !Number.isFinite(v)) return null;
  const clamp = (x: number) => Math.max(-1, Math.min(1, x));
  switch (scale) {
    case 'gain':
      return v <= 0 ? -1 : clamp(Math.log10(v) / SPAN.gain);
    case 'relative':
      return v <= 0 || !median ? -1 : clamp(Math.log10(v / median) / SPAN.relative);
    case 'condition':
      return clamp(Math.log10(Math.max(v, 1)) / SPAN.condition);
    case 'fraction':
      return clamp(v);
  }
}

/** Every cell of the heatmap: layers (rows, depth order) by metrics (columns). */
export function heatmapCells(r: AnalysisReport): Cell[] {
  const cells: Cell[] = [];
  METRICS.forEach((m, mi) => {
    const values = r.layers.map((l) => m.value(l, r));
    const finite = values.filter((x): x is number => x !== null && Number.isFinite(x) && x > 0).sort((a, b) => a - b);
    const median = finite.length ? finite[Math.floor(finite.length / 2)] : null;
    r.layers.forEach((l, li) => {
      const flagged = flagsOn(r, l, m.rules);
      const f = m.figure?.(l);
      cells.push({ layer: li, metric: mi, value: values[li], t: scalePosition(m.scale, values[li], median), kind: f?.kind, error: f?.error, flagged });
    });
  });
  return cells;
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
