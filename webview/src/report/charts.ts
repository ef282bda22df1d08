import {
  BarController, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Tooltip,
  type ChartConfiguration, type ChartEvent, type ChartType, type TooltipItem,
} from 'chart.js';
import { MatrixController, MatrixElement } from 'chartjs-chart-matrix';
import type { AnalysisReport } from '../../../src/core/report/types';
import { fmt, formatFigure, kindText, rankText } from '../../../src/core/report/figures';
import { flowSeries, heatmapCells, METRICS, type Cell } from './metrics';
import { cellColor, isDark, themeColor } from './palette';

Chart.register(MatrixController, MatrixElement, CategoryScale, LinearScale, LogarithmicScale, LineController, LineElement, PointElement, BarController, BarElement, Filler, Tooltip, Legend);
// no animation: the report is data, and charts are updated in place
Chart.defaults.animation = false;

interface MatrixPoint { x: string; y: string; cell: Cell }

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

/** Row height of the heatmap: readable for small models, compressed (aggregated by the canvas) for 500 layers. */
export function heatmapHeight(layers: number): number {
  const row = layers <= 40 ? 20 : layers <= 120 ? 10 : 4;
  return Math.max(160, layers * row + 60);
}

/** The layers-by-metrics heatmap; clicking a cell selects its layer. */
export class Heatmap {
  private chart: Chart<'matrix'> | undefined;
  private selected = -1;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly onSelect: (layer: number) => void) {}

  update(r: AnalysisReport, selected: number): void {
    baseFont();
    this.selected = selected;
    const dark = isDark();
    const layers = r.layers.map((l) => `${l.index + 1} ${l.name}`);
    const data: MatrixPoint[] = heatmapCells(r).map((cell) => ({ x: METRICS[cell.metric].label, y: layers[cell.layer], cell }));
    this.canvas.parentElement!.style.height = `${heatmapHeight(r.layers.length)}px`;
    const flaggedBorder = themeColor('--vscode-editorError-foreground', dark ? '#f85149' : '#cf222e');
    const selectedBorder = themeColor('--vscode-focusBorder', '#0969da');
    const dataset = {
      label: 'layers by metric',
      data,
      backgroundColor: (c: { raw?: unknown }) => cellColor((c.raw as MatrixPoint | undefined)?.cell.t ?? null, dark),
      borderColor: (c: { raw?: unknown }) => {
        const p = c.raw as MatrixPoint | undefined;
        return p?.cell.flagged.length ? flaggedBorder : p?.cell.layer === this.selected ? selectedBorder : 'transparent';
      },
      borderWidth: (c: { raw?: unknown }) => {
        const p = c.raw as MatrixPoint | undefined;
        return p?.cell.flagged.length ? 2 : p?.cell.layer === this.selected ? 2 : 0;
      },
      width: ({ chart }: { chart: Chart }) => (chart.chartArea?.width ?? 0) / METRICS.length - 2,
      height: ({ chart }: { chart: Chart }) => (chart.chartArea?.height ?? 0) / Math.max(layers.length, 1) - (layers.length > 120 ? 0 : 2),
    };
    this.chart = render(this.chart, this.canvas, {
      type: 'matrix',
      data: { datasets: [dataset as never] },
      options: {
        maintainAspectRatio: false,
        responsive: true,
        onClick: (_e: ChartEvent, elements) => {
          const p = elements[0] ? (data[elements[0].index] as MatrixPoint | undefined) : undefined;
          if (p) this.onSelect(p.cell.layer);
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (items: TooltipItem<'matrix'>[]) => (items[0]?.raw as MatrixPoint).y,
              label: (item: TooltipItem<'matrix'>) => cellLabel(r, (item.raw as MatrixPoint).cell),
            },
          },
        },
        scales: {
          x: { type: 'category', labels: METRICS.map((m) => m.label), offset: true, position: 'top', grid: { display: false } },
          y: { type: 'category', labels: layers, offset: true, reverse: false, grid: { display: false }, ticks: { autoSkip: true, font: { size: 11 } } },
        },
      },
    });
  }

  destroy(): void {
    this.chart?.destroy();
  }
}

/** The tooltip of a cell: the exact figure, how it was computed and its error bar, and what flags it. */
export function cellLabel(r: AnalysisReport, cell: Cell): string[] {
  const m = METRICS[cell.metric];
  const l = r.layers[cell.layer];
  const f = m.figure?.(l);
  const lines = [`${m.label} = ${f ? formatFigure(f, true) : fmt(cell.value)} (${m.description})`];
  if (m.figure) lines.push(`method: ${l.jacobian.method}${f ? `; ${kindText(f.kind)}` : ''}`);
  if (m.key === 'condition' && rankText(l.jacobian)) lines.push(rankText(l.jacobian)!);
  for (const f of cell.flagged) lines.push(`⚑ ${f.severity}: ${f.rule}`);
  return lines;
}

/** The gradient norm against depth (log scale) with the running Lyapunov sum, the healthy band shaded. */
export class FlowChart {
  private chart: Chart<'line'> | undefined;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly onSelect: (layer: number) => void) {}

  /** `after`: a what-if's gradient norms, overlaid. */
  update(r: AnalysisReport, selected: number, after?: Array<number | null>): void {
    baseFont();
    const s = flowSeries(r);
    const labels = s.map((_, i) => String(i + 1));
    const grads = s.map((x) => (x.gradient && x.gradient > 0 ? x.gradient : null));
    const last = r.layers[r.layers.length - 1]?.gradient.outputNorm ?? null;
    // the healthy band: within 10x of the gradient leaving the last layer
    const band = last ? { lo: last / 10, hi: last * 10 } : undefined;
    const accent = themeColor('--vscode-charts-blue', '#1f6feb');
    const lyap = themeColor('--vscode-charts-orange', '#e66101');
    const data = {
      labels,
      datasets: [
        { label: '‖∂L/∂input‖', data: grads, borderColor: accent, backgroundColor: accent, yAxisID: 'y', pointRadius: s.map((_, i) => (i === selected ? 6 : 3)), spanGaps: true },
        ...(after ? [{ label: '‖∂L/∂input‖ after the fix (what-if)', data: after.map((x) => (x && x > 0 ? x : null)), borderColor: themeColor('--vscode-charts-green', '#2ea043'), backgroundColor: themeColor('--vscode-charts-green', '#2ea043'), yAxisID: 'y', pointRadius: 3, spanGaps: true }] : []),
        { label: 'running Σ log gain (Lyapunov)', data: s.map((x) => x.lyapunov), borderColor: lyap, backgroundColor: lyap, borderDash: [4, 3], yAxisID: 'y2', pointRadius: 2, spanGaps: true },
        ...(band ? [
          { label: 'healthy band (within 10x of the output gradient)', data: labels.map(() => band.hi), borderWidth: 0, pointRadius: 0, fill: '+1', backgroundColor: 'rgba(46, 160, 67, 0.12)', yAxisID: 'y' },
          { label: '', data: labels.map(() => band.lo), borderWidth: 0, pointRadius: 0, fill: false, yAxisID: 'y' },
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
          y: { type: 'logarithmic', title: { display: true, text: 'gradient norm (log)' }, ticks: { callback: (v) => fmt(Number(v)) } },
          y2: { type: 'linear', position: 'right', title: { display: true, text: 'Σ log gain' }, grid: { drawOnChartArea: false } },
        },
      },
    });
  }

  destroy(): void {
    this.chart?.destroy();
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
          y: { type: 'logarithmic', title: { display: true, text: 'gradient norm (log)' }, ticks: { callback: (v) => fmt(Number(v)) } },
        },
      },
    });
  }
}
