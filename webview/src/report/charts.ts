import {
  BarController, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Tooltip,
  type ChartConfiguration, type ChartType,
} from 'chart.js';
import type { AnalysisReport } from '../../../src/core/report/types';
import { fmt } from '../../../src/core/report/figures';
import { flowSeries, outputGradient } from './metrics';
import { isDark, themeColor } from './palette';

Chart.register(CategoryScale, LinearScale, LogarithmicScale, LineController, LineElement, PointElement, BarController, BarElement, Filler, Tooltip, Legend);
// no animation: the report is data, and charts are updated in place
Chart.defaults.animation = false;

/**
 * Updates a chart in place (data and options, whose callbacks close over the current report) or
 * creates it on first use: charts are never rebuilt.
 */
function render<T extends ChartType>(existing: Chart<T> | undefined, canvas: HTMLCanvasElement, config: ChartConfiguration<T>): Chart<T> {
  if (existing) {
    existing.data = config.data;
    if (config.options) existing.options = config.options as never;
    existing.update();
    return existing;
  }
  return new Chart(canvas, config);
}

function baseFont(): void {
  Chart.defaults.color = themeColor('--vscode-foreground', isDark() ? '#e6edf3' : '#1f2328');
  Chart.defaults.borderColor = themeColor('--vscode-panel-border', isDark() ? '#3d444d' : '#d0d7de');
  Chart.defaults.font.family = themeColor('--vscode-font-family', 'system-ui, sans-serif');
}

const SUPERSCRIPT: Record<string, string> = { '-': '⁻', 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹' };

/**
 * A log axis's tick: a power of ten as 10ⁿ, every other tick unlabelled, so that one axis has one
 * format (not 10.0, 1.00, 0.0100 and 1.00e-4 on the same axis).
 */
export function powerOfTenTick(v: number): string {
  if (!(v > 0)) return '';
  const k = Math.log10(v);
  if (Math.abs(k - Math.round(k)) > 1e-9) return '';
  return `10${String(Math.round(k)).replace(/./g, (c) => SUPERSCRIPT[c] ?? c)}`;
}

/** A log axis's range: the whole decades around the positive values. */
function decades(xs: Array<number | null | undefined>): { min?: number; max?: number } {
  const all = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0);
  if (all.length === 0) return {};
  const [lo, hi] = [Math.floor(Math.log10(Math.min(...all))), Math.ceil(Math.log10(Math.max(...all)))];
  return { min: 10 ** lo, max: 10 ** Math.max(hi, lo + 1) };
}

/** A log axis labelled and ruled at powers of ten only. */
function decadeTicks() {
  return {
    ticks: { callback: (v: number | string) => powerOfTenTick(Number(v)), autoSkip: false },
    grid: { color: (ctx: { tick?: { value: number } }) => (ctx.tick && powerOfTenTick(ctx.tick.value) ? Chart.defaults.borderColor as string : 'transparent') },
  };
}

/** The loss in words, for the gradient chart's axis (README "Losses"). */
export function lossName(r: AnalysisReport): string {
  const name = { sum: 'sum of the output', mse: 'mean squared error', ce: 'softmax cross-entropy', nll: 'negative log-likelihood' }[r.run.loss] ?? r.run.loss;
  return `${name}${r.run.lossReduction ? `, ${r.run.lossReduction} over the batch` : ''}`;
}

/**
 * The gradient norm at each layer's input against depth (log scale, ticks at powers of ten), with the
 * healthy band (within 10x of the gradient leaving the model) shaded; the loss named on its axis.
 */
export class FlowChart {
  private chart: Chart<'line'> | undefined;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly onSelect: (layer: number) => void) {}

  /** `after`: a what-if's gradient norms, overlaid. */
  update(r: AnalysisReport, selected: number, after?: Array<number | null>): void {
    baseFont();
    const s = flowSeries(r);
    const labels = s.map((_, i) => String(i + 1));
    const grads = s.map((x) => (x.gradient && x.gradient > 0 ? x.gradient : null));
    const last = outputGradient(r);
    const band = last ? { lo: last / 10, hi: last * 10 } : undefined;
    const accent = themeColor('--vscode-charts-blue', '#1f6feb');
    // the axis spans whole decades around the data and the band, so that its ticks are powers of ten
    const { min, max } = decades([...grads, ...(after ?? []), ...(band ? [band.lo, band.hi] : [])]);
    const data = {
      labels,
      datasets: [
        { label: '‖∂L/∂input‖ at the layer', data: grads, borderColor: accent, backgroundColor: accent, pointRadius: s.map((_, i) => (i === selected ? 6 : 3)), spanGaps: true },
        ...(after ? [{ label: '‖∂L/∂input‖ after the fix (what-if)', data: after.map((x) => (x && x > 0 ? x : null)), borderColor: themeColor('--vscode-charts-green', '#2ea043'), backgroundColor: themeColor('--vscode-charts-green', '#2ea043'), pointRadius: 3, spanGaps: true }] : []),
        ...(band ? [
          { label: `healthy band: within 10x of the gradient leaving the model (${fmt(last)})`, data: labels.map(() => band.hi), borderWidth: 0, pointRadius: 0, fill: '+1', backgroundColor: 'rgba(46, 160, 67, 0.15)' },
          { label: '', data: labels.map(() => band.lo), borderWidth: 0, pointRadius: 0, fill: false },
        ] : []),
      ],
    };
    this.chart = render(this.chart, this.canvas, {
      type: 'line',
      data: data as never,
      options: {
        maintainAspectRatio: false,
        responsive: true,
        onClick: (_e, elements) => {
          if (elements[0]) this.onSelect(elements[0].index);
        },
        plugins: {
          legend: { labels: { filter: (item) => item.text !== '' } },
          tooltip: { callbacks: { title: (items) => r.layers[items[0]?.dataIndex ?? 0]?.name ?? '', label: (item) => `${item.dataset.label}: ${fmt(item.parsed.y)}` } },
        },
        scales: {
          x: { title: { display: true, text: 'depth (layer)' } },
          y: { type: 'logarithmic', min, max, title: { display: true, text: `‖∂L/∂input‖ (L: ${r.run.loss})` }, ...decadeTicks() },
        },
      },
    });
  }

  destroy(): void {
    this.chart?.destroy();
  }
}

/** The running sum of ln(rms gain) against depth (its slope is the Lyapunov exponent), on a chart of its own. */
export class LyapunovChart {
  private chart: Chart<'line'> | undefined;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly onSelect: (layer: number) => void) {}

  update(r: AnalysisReport, selected: number): void {
    baseFont();
    const s = flowSeries(r);
    const color = themeColor('--vscode-charts-orange', '#e66101');
    this.chart = render(this.chart, this.canvas, {
      type: 'line',
      data: {
        labels: s.map((_, i) => String(i + 1)),
        datasets: [{ label: 'running Σ ln(rms gain) (0: signals keep their size; each -2.3 is 10x smaller)', data: s.map((x) => x.lyapunov), borderColor: color, backgroundColor: color, pointRadius: s.map((_, i) => (i === selected ? 5 : 2)), spanGaps: true }],
      } as never,
      options: {
        maintainAspectRatio: false,
        responsive: true,
        onClick: (_e, elements) => {
          if (elements[0]) this.onSelect(elements[0].index);
        },
        plugins: { tooltip: { callbacks: { title: (items) => r.layers[items[0]?.dataIndex ?? 0]?.name ?? '', label: (item) => `Σ ln(rms gain): ${fmt(item.parsed.y)}` } } },
        scales: {
          x: { title: { display: true, text: 'depth (layer)' } },
          y: { title: { display: true, text: 'Σ ln(rms gain)' } },
        },
      },
    });
  }
}

/** A layer's singular value spectrum: the exact values (histogram) or the SLQ density, with the isometry ideal (1) marked. */
export class SpectrumChart {
  private chart: Chart<'bar'> | undefined;

  constructor(private readonly canvas: HTMLCanvasElement) {}

  update(r: AnalysisReport, layer: number): { kind: string; bins: Array<{ from: number; to: number; mass: number; stderr: number }> } | undefined {
    baseFont();
    const spec = r.layers[layer]?.jacobian.spectrum;
    if (!spec) {
      this.chart?.destroy();
      this.chart = undefined;
      return undefined;
    }
    const d = spec.density;
    const bins = d.mass.map((mass, i) => ({ from: d.edges[i], to: d.edges[i + 1], mass, stderr: d.stderr[i] }));
    const ideal = bins.findIndex((b) => b.from <= 1 && 1 < b.to);
    const bar = themeColor('--vscode-charts-blue', '#1f6feb');
    const mark = themeColor('--vscode-charts-green', '#2ea043');
    const data = {
      labels: bins.map((b) => `${fmt(b.from)}–${fmt(b.to)}`),
      datasets: [{ label: spec.kind === 'exact' ? 'singular values (exact)' : `spectral density (SLQ estimate, ${d.probes} probes)`, data: bins.map((b) => b.mass), backgroundColor: bins.map((_, i) => (i === ideal ? mark : bar)) }],
    };
    this.chart = render(this.chart, this.canvas, {
      type: 'bar',
      data: data as never,
      options: {
        maintainAspectRatio: false,
        responsive: true,
        plugins: { tooltip: { callbacks: { label: (item) => `mass ${fmt(item.parsed.y)} ± ${fmt(bins[item.dataIndex].stderr)}` } } },
        scales: { x: { title: { display: true, text: 'singular value (log bins; green: contains 1, the isometry ideal)' } }, y: { title: { display: true, text: 'fraction of the spectrum' }, min: 0 } },
      },
    });
    return { kind: spec.kind, bins };
  }

  destroy(): void {
    this.chart?.destroy();
  }
}

/** Two gradient flows overlaid (a comparison's base and candidate), by row of the comparison. */
export class CompareFlowChart {
  private chart: Chart<'line'> | undefined;

  constructor(private readonly canvas: HTMLCanvasElement) {}

  update(labels: string[], base: Array<number | null>, candidate: Array<number | null>): void {
    baseFont();
    const blue = themeColor('--vscode-charts-blue', '#1f6feb');
    const green = themeColor('--vscode-charts-green', '#2ea043');
    const positive = (xs: Array<number | null>) => xs.map((x) => (x && x > 0 ? x : null));
    const data = {
      labels: labels.map((_, i) => String(i + 1)),
      datasets: [
        { label: 'base ‖∂L/∂input‖', data: positive(base), borderColor: blue, backgroundColor: blue, spanGaps: true, pointRadius: 3 },
        { label: 'candidate ‖∂L/∂input‖', data: positive(candidate), borderColor: green, backgroundColor: green, spanGaps: true, pointRadius: 3 },
      ],
    };
    this.chart = render(this.chart, this.canvas, {
      type: 'line',
      data: data as never,
      options: {
        maintainAspectRatio: false,
        responsive: true,
        plugins: { tooltip: { callbacks: { title: (items) => labels[items[0]?.dataIndex ?? 0] ?? '', label: (item) => `${item.dataset.label}: ${fmt(item.parsed.y)}` } } },
        scales: {
          x: { title: { display: true, text: 'layer (in the comparison\'s order)' } },
          y: { type: 'logarithmic', ...decades([...base, ...candidate]), title: { display: true, text: '‖∂L/∂input‖' }, ...decadeTicks() },
        },
      },
    });
  }
}
