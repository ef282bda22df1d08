/**
 * The webview app: the analysis report (heatmap, gradient flow, spectrum, findings) or a model
 * summary. It runs inside a VS Code webview (data arrives by postMessage after 'ready'; the view
 * state survives hide and show through getState/setState) or as a standalone HTML file (data
 * embedded in a <script type="application/json" id="gd-data"> element).
 */
import type { InspectResult } from '../../src/core/inspect';
import type { AnalysisReport } from '../../src/core/report/types';
import type { HostToWebview, WebviewToHost } from '../../src/protocol/webview';
import type { Comparison } from '../../src/core/review/compare';
import { ReportView, type ReportActions, type ViewState } from './report/app';
import { renderComparison } from './report/compare';
import { renderStatus } from './status';
import { renderSummary } from './summary';

interface VsCodeApi {
  postMessage(msg: WebviewToHost): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const DEFAULT_STATE: ViewState = { selected: 0, view: 'metrics', sampleMetric: 'sigmaMax', filter: '' };
const root = (): HTMLElement => document.getElementById('app') ?? document.body;

function isReport(x: unknown): x is AnalysisReport {
  return typeof x === 'object' && x !== null && 'schemaVersion' in x && 'layers' in x;
}

const embedded = document.getElementById('gd-data');
if (embedded?.textContent) {
  const data = JSON.parse(embedded.textContent) as InspectResult | AnalysisReport | { comparison: Comparison };
  if ('comparison' in data) renderComparison(root(), data.comparison);
  else if (isReport(data)) new ReportView(root(), DEFAULT_STATE, () => undefined).show(data, false);
  else renderSummary(root(), data);
} else if (typeof acquireVsCodeApi === 'function') {
  const vscode = acquireVsCodeApi();
  const actions: ReportActions = {
    analyze: () => vscode.postMessage({ type: 'analyze' }),
    openOutline: () => vscode.postMessage({ type: 'openOutline' }),
    previewFix: (findingId) => vscode.postMessage({ type: 'previewFix', findingId }),
    revealNode: (node) => vscode.postMessage({ type: 'revealNode', node }),
    export: () => vscode.postMessage({ type: 'export' }),
  };
  const saved = vscode.getState() as Partial<ViewState> | undefined;
  let view: ReportView | undefined;
  window.addEventListener('message', (event: MessageEvent<HostToWebview>) => {
    const msg = event.data;
    switch (msg.type) {
      case 'summary':
        view = undefined;
        renderSummary(root(), msg.result);
        break;
      case 'report':
        view ??= new ReportView(root(), { ...DEFAULT_STATE, ...saved }, (s) => vscode.setState(s), actions);
        view.show(msg.report, msg.stale, msg.refining ?? false);
        break;
      case 'whatIf':
        view?.showWhatIf(msg.result);
        break;
      case 'comparison':
        view = undefined;
        renderComparison(root(), msg.comparison, actions);
        break;
      case 'status':
        view = undefined;
        renderStatus(root(), msg.message, msg.busy ? 'busy' : 'idle', actions.analyze);
        break;
      case 'error':
        view = undefined;
        renderStatus(root(), msg.message, 'error', actions.analyze);
        break;
      default: {
        const exhaustive: never = msg;
        console.warn('unknown message', exhaustive);
      }
    }
  });
  vscode.postMessage({ type: 'ready' });
}
