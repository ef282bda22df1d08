/**
 * The webview app. It shows a model summary or an analysis report (the heatmap and charts land with
 * the Report issue). It runs inside a VS Code webview (data arrives by postMessage after 'ready')
 * or as a standalone HTML file (data embedded in a <script type="application/json" id="gd-data">).
 */
import type { InspectResult } from '../../src/core/inspect';
import type { AnalysisReport } from '../../src/core/report/types';
import type { HostToWebview, WebviewToHost } from '../../src/protocol/webview';
import { renderReport, renderStatus, type ReportActions } from './report';
import { renderSummary } from './summary';

interface VsCodeApi {
  postMessage(msg: WebviewToHost): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const root = (): HTMLElement => document.getElementById('app') ?? document.body;

function isReport(x: unknown): x is AnalysisReport {
  return typeof x === 'object' && x !== null && 'schemaVersion' in x && 'layers' in x;
}

const embedded = document.getElementById('gd-data');
if (embedded?.textContent) {
  const data = JSON.parse(embedded.textContent) as InspectResult | AnalysisReport;
  if (isReport(data)) renderReport(root(), data, false);
  else renderSummary(root(), data);
} else if (typeof acquireVsCodeApi === 'function') {
  const vscode = acquireVsCodeApi();
  const actions: ReportActions = {
    analyze: () => vscode.postMessage({ type: 'analyze' }),
    openOutline: () => vscode.postMessage({ type: 'openOutline' }),
    previewFix: (findingId) => vscode.postMessage({ type: 'previewFix', findingId }),
  };
  window.addEventListener('message', (event: MessageEvent<HostToWebview>) => {
    const msg = event.data;
    switch (msg.type) {
      case 'summary':
        renderSummary(root(), msg.result);
        break;
      case 'report':
        renderReport(root(), msg.report, msg.stale, actions);
        break;
      case 'status':
        renderStatus(root(), msg.message, msg.busy ? 'busy' : 'idle', actions);
        break;
      case 'error':
        renderStatus(root(), msg.message, 'error', actions);
        break;
      default: {
        const exhaustive: never = msg;
        console.warn('unknown message', exhaustive);
      }
    }
  });
  vscode.postMessage({ type: 'ready' });
}
